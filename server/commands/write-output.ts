/**
 * Above this many characters a `--json` document is printed on one line: indenting the status of
 * 10,000 peers more than doubles its 4 MiB and the time to print it. Whitespace is not part of the
 * contract (docs/cli.md, "Output"); a document this size is read by programs, not by eye.
 */
export const INDENTED_JSON_MAX_CHARS = 1 << 20;

/** Prints a value as JSON alone on stdout, for `--json` and scripts: indented, or on one line when large. */
export function printJson(value: unknown): void {
  const line = JSON.stringify(value);
  process.stdout.write(`${line.length > INDENTED_JSON_MAX_CHARS ? line : JSON.stringify(value, null, 2)}\n`);
}

/** Prints text on stdout, ending with one newline. */
export function printText(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

/** Prints a note for the human on stderr, keeping stdout for what scripts read. */
export function printNote(text: string): void {
  process.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
}
