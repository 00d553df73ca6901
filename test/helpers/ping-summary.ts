/** The transmitted and received counts of a finished `ping` ("N packets transmitted, M received"). */
export function pingSummary(stdout: string): { sent: number; received: number } {
  const match = /(\d+) packets transmitted, (\d+) received/.exec(stdout);
  if (!match) throw new Error(`no ping summary in: ${stdout.slice(-300)}`);
  return { sent: Number(match[1]), received: Number(match[2]) };
}
