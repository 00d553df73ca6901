import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { waitUntil } from './wait-until.js';

/**
 * When (ms since the epoch) the last whole packet in a pcap file was captured; 0 while it holds
 * none. A packet tcpdump is still writing is not counted, so a test may poll the file as it grows.
 */
export function lastCaptureMs(file: string): number {
  const pcap = readFileSync(file);
  let last = 0;
  // A 24-byte file header, then per packet 16 bytes (seconds, microseconds, captured length, length) and the bytes.
  for (let at = 24; at + 16 <= pcap.length;) {
    const end = at + 16 + pcap.readUInt32LE(at + 8);
    if (end > pcap.length) break;
    last = pcap.readUInt32LE(at) * 1000 + pcap.readUInt32LE(at + 4) / 1000;
    at = end;
  }
  return last;
}

/** tcpdump writing every packet on `iface` of a namespace to a file until stopped; resolves once it listens. */
export async function capture(namespace: string, iface: string, file: string): Promise<{ stop(): Promise<void> }> {
  const child: ChildProcess = spawn('ip', ['netns', 'exec', namespace, 'tcpdump', '-Z', 'root', '-i', iface, '-U', '-n', '-s', '0', '-w', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  let said = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (said += chunk));
  await waitUntil(() => /listening on/.test(said), 10_000, () => `tcpdump listening: ${said}`);
  return {
    stop: async () => {
      child.kill('SIGINT');
      await exited;
    },
  };
}

/** How many packets of a capture match a tcpdump filter. */
export function countMatching(file: string, filter: string): number {
  const out = execFileSync('tcpdump', ['-r', file, '-n', filter], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return out.split('\n').filter((line) => line.trim() !== '').length;
}
