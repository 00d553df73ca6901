import type { Command } from 'commander';
import { describe, expect, it, vi } from 'vitest';

// The CLIs build their commander programs and hand them to runCli: keep them instead of running.
const programs: Command[] = [];
vi.mock('../../shared/cli/run-cli.js', () => ({ runCli: async (program: Command) => void programs.push(program) }));

/** Words of the code, not of the people who run it: internal ids, numbered references, work notes. */
const JARGON: readonly [RegExp, string][] = [
  [/\bseed\b/i, 'an internal name ("seed")'],
  [/\b0\d\d\b/, 'a numbered reference such as 001'],
  [/\b(todo|fixme|xxx|tbd|stub|fixture|helper|issue|round \d)\b/i, 'a work note'],
  [/\b[a-z]+[A-Z][A-Za-z]*\b/, 'a camelCase identifier'],
  [/\b[a-z]+_[a-z_]+\b/, 'a snake_case identifier'],
  [/\b(undefined|null|NaN)\b/, 'a value of the code'],
];

/** Every command of `program`, with its path, depth first. */
function commands(program: Command, path: string[] = []): { path: string[]; command: Command }[] {
  return [{ path, command: program }, ...program.commands.flatMap((sub) => commands(sub, [...path, sub.name()]))];
}

/** What `… --help` prints for `command`, including the text added after the options. */
function helpOf(command: Command): string {
  let text = '';
  command.configureOutput({ writeOut: (chunk) => (text += chunk), writeErr: (chunk) => (text += chunk) });
  command.outputHelp();
  return text;
}

describe('help texts', async () => {
  await import('../../server/cli.js');
  await import('../../client/cli.js');
  const all = programs.flatMap((program) => commands(program).map(({ path, command }) => ({ name: [program.name(), ...path].join(' '), command })));

  it('cover both programs and every command', () => {
    expect(programs.map((program) => program.name())).toEqual(['tunnel-hub', 'tunnel-client']);
    expect(all.map(({ name }) => name)).toEqual(expect.arrayContaining(['tunnel-hub peer route add', 'tunnel-hub backup', 'tunnel-hub admin-token', 'tunnel-client join', 'tunnel-client set']));
  });

  it.each(all.map(({ name, command }) => [name, command] as const))('%s: says what it does and what every option is for, in words a user knows', (name, command) => {
    expect(command.description(), name).not.toBe('');
    for (const option of command.options) expect({ option: option.flags, description: option.description }).not.toMatchObject({ description: '' });
    const text = helpOf(command);
    expect(text).toMatch(new RegExp(`^Usage: ${name} `));
    // Environment variables and error codes are things users type and see: they may stay.
    const prose = text.replace(/\$?TUNNEL_[A-Z_*]+|ERR_[A-Z_]+/g, '');
    for (const [pattern, what] of JARGON) expect({ name, jargon: what, found: pattern.exec(prose)?.[0] }).toEqual({ name, jargon: what, found: undefined });
  });
});
