/**
 * The top-level command an argument list runs and the words after it (`['status', '--json']` in
 * `tunnel-hub --state DIR status --json`), so the entry imports that command's module alone;
 * undefined when the list has none or one it cannot place (an option of the program other than
 * `--state DIR`, `help`, an unknown word), where every command is loaded and commander answers as
 * before. `args` excludes node and the script.
 */
export function requestedCommand(args: readonly string[], known: readonly string[]): string[] | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--state') i++;
    else if (!arg.startsWith('--state=')) return known.includes(arg) ? args.slice(i) : undefined;
  }
  return undefined;
}
