import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HUB_CLI, tempStateDir } from '../helpers/hub-cli.js';
import { waitUntil } from '../helpers/wait-until.js';

let state: { dir: string; cleanup: () => Promise<void> };

beforeAll(async () => {
  state = await tempStateDir();
});

afterAll(async () => {
  await state.cleanup();
});

/** Attempts at holding the hub between those two lines: it takes 25-35 ms from one to the other. */
const ATTEMPTS = 5;

interface HeldStart {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  folder: string;
  /** False when the hub was already listening when it was held: that attempt missed its window. */
  heldBeforeListening: boolean;
}

/** Starts serve on a fresh folder and holds it (SIGSTOP) the moment it logs that it initialised the folder. */
async function startAndHold(attempt: number): Promise<HeldStart> {
  // A fresh folder: the hub logs that it initialised it from inside its start, before it listens.
  const folder = join(state.dir, `fresh-${attempt}`);
  const child = spawn(process.execPath, [HUB_CLI, '--state', folder, 'serve', '--listen', '127.0.0.1', '--ws-port', '0', '--ssh-port', '0',
    '--datapath', 'none', '--no-admin', '--log-level', 'info'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  let output = '';
  let held: boolean | undefined;
  for (const stream of [child.stdout, child.stderr]) {
    stream!.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      // Held from the output's own event, not from a poll, so the hub gets no further than it is.
      if (held === undefined && output.includes('initialised a new hub state folder')) {
        child.kill('SIGSTOP');
        held = !output.includes('hub listening');
      }
    });
  }
  await waitUntil(() => held !== undefined, 20_000, () => `serve to start: ${output}`);
  return { child, output: () => output, exited, folder, heldBeforeListening: held! };
}

describe('serve stopped while it starts', () => {
  it('a SIGTERM taken in the middle of the start waits for it to end, then shuts down cleanly (exit 0, serve.json gone)', async () => {
    const starts: HeldStart[] = [];
    try {
      for (let attempt = 1; attempt <= ATTEMPTS && !starts.at(-1)?.heldBeforeListening; attempt++) starts.push(await startAndHold(attempt));
      const start = starts.at(-1)!;
      expect(start.heldBeforeListening, `the signal should land before the hub listens (in one of ${ATTEMPTS} attempts)`).toBe(true);
      start.child.kill('SIGTERM');
      start.child.kill('SIGCONT');
      expect(await start.exited, start.output()).toEqual({ code: 0, signal: null });
      const lines = start.output().split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as { msg: string; signal?: string });
      expect(lines.map((line) => line.msg)).toEqual(expect.arrayContaining(['hub listening', 'shutting down', 'hub stopped']));
      expect(lines.find((line) => line.msg === 'shutting down')?.signal).toBe('SIGTERM');
      expect(existsSync(join(start.folder, 'serve.json'))).toBe(false);
    } finally {
      for (const start of starts) start.child.kill('SIGKILL');
    }
  });
});
