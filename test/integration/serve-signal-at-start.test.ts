import { spawn } from 'node:child_process';
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

describe('serve stopped while it starts', () => {
  it('a SIGTERM taken in the middle of the start waits for it to end, then shuts down cleanly (exit 0, serve.json gone)', async () => {
    // A fresh folder: the hub logs that it initialised it from inside its start, well before it listens.
    const folder = join(state.dir, 'fresh');
    const child = spawn(process.execPath, [HUB_CLI, '--state', folder, 'serve', '--listen', '127.0.0.1', '--ws-port', '0', '--ssh-port', '0',
      '--datapath', 'none', '--no-admin', '--log-level', 'info'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    for (const stream of [child.stdout, child.stderr]) stream.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    try {
      await waitUntil(() => output.includes('initialised a new hub state folder'), 20_000, () => `serve to start: ${output}`);
      // Held where it is, so the signal lands in the start whatever the machine's load, not after it.
      child.kill('SIGSTOP');
      const listeningWhenHeld = output.includes('hub listening');
      child.kill('SIGTERM');
      child.kill('SIGCONT');
      expect(await exited, output).toEqual({ code: 0, signal: null });
      expect(listeningWhenHeld, 'the signal should land before the hub listens').toBe(false);
      const lines = output.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as { msg: string; signal?: string });
      expect(lines.map((line) => line.msg)).toEqual(expect.arrayContaining(['hub listening', 'shutting down', 'hub stopped']));
      expect(lines.find((line) => line.msg === 'shutting down')?.signal).toBe('SIGTERM');
      expect(existsSync(join(folder, 'serve.json'))).toBe(false);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
