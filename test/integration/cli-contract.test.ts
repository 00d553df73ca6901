import type { Command } from 'commander';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { generateEd25519KeyPair } from '../../shared/ssh/generate-ed25519-key-pair.js';
import { runHubCli } from '../helpers/hub-cli.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CONTRACT = readFileSync(join(ROOT, 'docs/cli.md'), 'utf8');
const PROGRAMS = [join(ROOT, 'dist/server/cli.js'), join(ROOT, 'dist/client/cli.js')];

// The built CLIs hand their commander programs to runCli: keep them instead of running them, and
// read each command's --help text as `--help` prints it.
const programs: Command[] = [];
vi.mock('../../dist/shared/cli/run-cli.js', () => ({ runCli: async (program: Command) => void programs.push(program) }));

/** What `--help` of one command shows: its long flags and its subcommands. */
interface HelpedCommand {
  path: string;
  flags: string[];
  subcommands: string[];
}

/** One command's section of docs/cli.md: its flags and its text, and whether it sits under "Planned". */
interface DocumentedCommand {
  path: string;
  flags: string[];
  text: string;
  planned: boolean;
}

/** The lines of a help section ("Options:", "Commands:") up to the next blank line. */
function helpSection(text: string, title: string): string[] {
  const lines = text.split('\n');
  const start = lines.indexOf(title);
  if (start === -1) return [];
  const end = lines.findIndex((line, index) => index > start && line.trim() === '');
  return lines.slice(start + 1, end === -1 ? undefined : end);
}

/** Every command under `command`, depth first, as its `--help` text describes it. */
function walkHelp(command: Command, path: string[]): HelpedCommand[] {
  const text = command.helpInformation();
  // Option and command names start two spaces in; wrapped description lines start further in.
  // The state folder's --state after a hub command is a convention docs/cli.md states once.
  const folderAfter = path.length > 1 && path[0] === 'tunnel-hub' && command.options.some((option) => option.long === '--state' && /^state folder/.test(option.description));
  const flags = helpSection(text, 'Options:').map((line) => /^ {2}(?:-[A-Za-z], )?(--[a-z][a-z0-9-]*)/.exec(line)?.[1])
    .filter((flag): flag is string => flag !== undefined && flag !== '--help' && !(folderAfter && flag === '--state'));
  const subcommands = helpSection(text, 'Commands:').map((line) => /^ {2}([a-z][a-z0-9-]*)/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined && name !== 'help');
  expect({ path: path.join(' '), subcommands }).toEqual({ path: path.join(' '), subcommands: command.commands.map((sub) => sub.name()) });
  return [{ path: path.join(' '), flags, subcommands }, ...command.commands.flatMap((sub) => walkHelp(sub, [...path, sub.name()]))];
}

/**
 * The commands docs/cli.md documents: a `### \`tunnel-hub peer add <name>\`` heading opens a
 * section, whose flags are the first cells of its table rows (`| \`--ssh-key <line>\` | …`).
 * Sections under "## Planned" are marked so.
 */
function documentedCommands(markdown: string): DocumentedCommand[] {
  const commands: DocumentedCommand[] = [];
  let planned = false;
  let current: DocumentedCommand | undefined;
  for (const line of markdown.split('\n')) {
    if (/^#{1,3} /.test(line)) {
      if (/^#{1,2} /.test(line)) planned = line === '## Planned';
      const heading = /^### `((?:tunnel-hub|tunnel-client)(?: [a-z][a-z0-9-]*)*)(?: [<[][^`]*)?`/.exec(line);
      current = heading?.[1] === undefined ? undefined : { path: heading[1], flags: [], text: '', planned };
      if (current) commands.push(current);
      continue;
    }
    if (!current) continue;
    current.text += `${line}\n`;
    const flag = /^\| `(--[a-z][a-z0-9-]*)/.exec(line)?.[1];
    if (flag !== undefined) current.flags.push(flag);
  }
  return commands;
}

/** The text of a `## ` section of docs/cli.md. */
function contractSection(title: string): string {
  return new RegExp(`^## ${title}\\n([\\s\\S]*?)(?=^## )`, 'm').exec(CONTRACT)?.[1] ?? '';
}

/** Every key of every object inside a JSON value. */
function jsonKeys(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(jsonKeys);
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, inner]) => [key, ...jsonKeys(inner)]);
}

const built = PROGRAMS.every((file) => existsSync(file));
if (!built) console.warn('SKIPPING the CLI contract test: dist/ is missing; run `npm run build` (npm test does it first)');

describe.skipIf(!built)('docs/cli.md, the command-line contract', () => {
  const documented = documentedCommands(CONTRACT);
  const current = new Map(documented.filter((command) => !command.planned).map((command) => [command.path, command]));
  let helped: HelpedCommand[] = [];
  beforeAll(async () => {
    for (const file of PROGRAMS) await import(file);
    expect(programs.map((program) => program.name())).toEqual(['tunnel-hub', 'tunnel-client']);
    helped = programs.flatMap((program) => walkHelp(program, [program.name()]));
  });

  it('is read the way this test reads it', () => {
    expect(current.get('tunnel-hub peer add')?.flags).toEqual(expect.arrayContaining(['--ssh-key', '--no-key', '--json']));
    expect(current.get('tunnel-client up')?.flags).toContain('--peer-address');
    expect(current.get('tunnel-hub peer rekey')).toBeDefined();
    expect(documented.find((command) => !command.planned && command.path === 'tunnel-hub serve')?.flags).toContain('--encrypt');
    expect(helped.map((command) => command.path)).toEqual(expect.arrayContaining(['tunnel-hub', 'tunnel-hub peer route list', 'tunnel-hub hubs link', 'tunnel-client set']));
    expect(helped.find((command) => command.path === 'tunnel-hub serve')?.flags).toEqual(expect.arrayContaining(['--listen', '--no-admin', '--hook']));
  });

  it('documents every command --help shows, and no command outside "Planned" that --help lacks', () => {
    const inHelp = helped.map((command) => command.path).sort();
    expect({ undocumented: inHelp.filter((path) => !current.has(path)) }).toEqual({ undocumented: [] });
    expect({ documentedButAbsent: [...current.keys()].filter((path) => !inHelp.includes(path)) }).toEqual({ documentedButAbsent: [] });
  });

  it('documents every flag --help shows, and no flag outside "Planned" that --help lacks', () => {
    for (const command of helped) {
      const doc = current.get(command.path)?.flags ?? [];
      expect({ command: command.path, undocumented: command.flags.filter((flag) => !doc.includes(flag)) }).toEqual({ command: command.path, undocumented: [] });
      expect({ command: command.path, documentedButAbsent: doc.filter((flag) => !command.flags.includes(flag)) }).toEqual({ command: command.path, documentedButAbsent: [] });
    }
  });

  it('lists every error code of the TunnelErrorCode union, and only those', () => {
    const source = readFileSync(join(ROOT, 'shared/errors.ts'), 'utf8');
    const union = /export type TunnelErrorCode =([\s\S]*?);/.exec(source)?.[1] ?? '';
    const codes = [...new Set([...union.matchAll(/'(ERR_[A-Z_]+)'/g)].map((match) => match[1]))];
    expect(codes.length).toBeGreaterThan(40);
    const listed = [...contractSection('Error codes').matchAll(/^\| `(ERR_[A-Z_]+)` \|/gm)].map((match) => match[1]);
    expect({ missing: codes.filter((code) => !listed.includes(code)) }).toEqual({ missing: [] });
    expect({ unknown: listed.filter((code) => !codes.includes(code)) }).toEqual({ unknown: [] });
  });

  it('lists every bench:* script of package.json, and only those', () => {
    const scripts = Object.keys((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts)
      .filter((name) => name.startsWith('bench:'));
    expect(scripts.length).toBeGreaterThan(5);
    const listed = [...contractSection('Benchmarks').matchAll(/^\| `npm run (bench:[a-z-]+)` \|/gm)].map((match) => match[1]);
    expect(listed.sort()).toEqual(scripts.sort());
  });

  describe('names every JSON field the hub\'s listings print', () => {
    const parent = mkdtempSync(join(tmpdir(), 'tunnel-contract-'));
    const state = join(parent, 'hub');
    beforeAll(async () => {
      // A hub with a keyed and a keyless peer, a link between them and a routed prefix.
      const keyFile = join(parent, 'alice.pub');
      writeFileSync(keyFile, generateEd25519KeyPair('alice').public);
      for (const step of [
        ['init', '--endpoint', '198.51.100.1', '--pool', '10.1.12.0/24'], ['peer', 'add', 'alice', '--ssh-key-file', keyFile], ['peer', 'add', 'bob', '--no-key'],
        ['link', 'add', 'alice', 'bob'], ['peer', 'route', 'add', 'alice', '10.50.1.0/24'],
      ]) expect(await runHubCli(state, step)).toMatchObject({ code: 0 });
    }, 60_000);
    afterAll(() => rmSync(parent, { recursive: true, force: true }));

    /** Runs `tunnel-hub ARGS` and parses its stdout. */
    async function json(args: string[]): Promise<unknown> {
      const result = await runHubCli(state, args);
      expect(result, result.stderr).toMatchObject({ code: 0 });
      return JSON.parse(result.stdout) as unknown;
    }

    it.each([
      ['tunnel-hub peer add', ['peer', 'add', 'carol', '--token', '--json']],
      ['tunnel-hub pool list', ['pool', 'list', '--json']],
      ['tunnel-hub peer list', ['peer', 'list', '--json']],
      ['tunnel-hub peer show', ['peer', 'show', 'alice', '--json']],
      ['tunnel-hub peer table', ['peer', 'table', 'alice', '--json']],
      ['tunnel-hub link list', ['link', 'list', '--json']],
      ['tunnel-hub peer route list', ['peer', 'route', 'list', '--json']],
      ['tunnel-hub status', ['status', '--json']],
    ])('%s', async (command, args) => {
      const text = current.get(command)?.text ?? '';
      const keys = [...new Set(jsonKeys(await json(args)))];
      expect(keys.length).toBeGreaterThan(3);
      expect({ command, unnamed: keys.filter((key) => !text.includes(`"${key}"`) && !text.includes(`\`${key}\``)) }).toEqual({ command, unnamed: [] });
    });
  });
});
