import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMember } from '../../client/session/run-member.js';
import { HUB_CLI, runHubCli } from '../helpers/hub-cli.js';
import { MemoryClientDatapath } from '../helpers/memory-client-datapath.js';
import { waitUntil } from '../helpers/wait-until.js';
import { testLogger } from '../helpers/with-hub.js';

const ROOT = resolve(import.meta.dirname, '../..');
const CLIENT_CLI = join(ROOT, 'dist', 'client', 'cli.js');
/** The version the CLIs must print: package.json's, read here independently of the code under test. */
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const never = new Promise<never>(() => undefined);

function run(cli: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function getJson(port: number, path: string): Promise<unknown> {
  return new Promise((done, fail) => {
    get({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => done(JSON.parse(body)));
    }).on('error', fail);
  });
}

describe('--version and -V', () => {
  it.each([
    ['tunnel-hub', '--version', HUB_CLI], ['tunnel-hub', '-V', HUB_CLI],
    ['tunnel-client', '--version', CLIENT_CLI], ['tunnel-client', '-V', CLIENT_CLI],
  ])('%s %s prints the package version alone and exits 0', (_name, flag, cli) => {
    expect(run(cli, [flag])).toEqual({ status: 0, stdout: `${VERSION}\n`, stderr: '' });
  });

  it('is in both helps', () => {
    expect(run(HUB_CLI, ['--help']).stdout).toMatch(/-V, --version\s+print the version and exit/);
    expect(run(CLIENT_CLI, ['--help']).stdout).toMatch(/-V, --version\s+print the version and exit/);
  });

  it('finds package.json from an installed package\'s layout, under another project', () => {
    // npm's layout: <project>/node_modules/tunnel-coordinator/{package.json,dist/…,node_modules}, the
    // project having a package.json of its own that must not be taken for ours.
    const project = mkdtempSync(join(tmpdir(), 'tc-installed-'));
    try {
      const installed = join(project, 'node_modules', 'tunnel-coordinator');
      mkdirSync(join(installed, 'dist'), { recursive: true });
      writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'app', version: '9.9.9' }));
      cpSync(join(ROOT, 'package.json'), join(installed, 'package.json'));
      for (const part of ['server', 'client', 'shared', 'native']) cpSync(join(ROOT, 'dist', part), join(installed, 'dist', part), { recursive: true });
      symlinkSync(join(ROOT, 'node_modules'), join(installed, 'node_modules'));
      expect(run(join(installed, 'dist', 'server', 'cli.js'), ['-V'])).toEqual({ status: 0, stdout: `${VERSION}\n`, stderr: '' });
      expect(run(join(installed, 'dist', 'client', 'cli.js'), ['--version'])).toEqual({ status: 0, stdout: `${VERSION}\n`, stderr: '' });
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  });
});

describe('versions in status and in the hub\'s log', () => {
  let dir: string;
  let serve: ChildProcess;
  let output = '';
  let runtime: { wsPort: number; admin: { port: number } };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tc-version-'));
    const hubState = join(dir, 'hub');
    expect((await runHubCli(hubState, ['init', '--endpoint', '198.51.100.1', '--pool', '10.1.12.0/24'])).code).toBe(0);
    serve = spawn(process.execPath, [HUB_CLI, '--state', hubState, 'serve', '--listen', '127.0.0.1', '--ws-port', '0', '--ssh-port', '0',
      '--datapath', 'none', '--admin-listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    serve.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    serve.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    await waitUntil(() => existsSync(join(hubState, 'serve.json')), 20_000, () => `serve.json: ${output}`);
    runtime = JSON.parse(readFileSync(join(hubState, 'serve.json'), 'utf8')) as typeof runtime;
    // A real member session: the client's own hello, from the code `tunnel-client join` runs.
    const token = (await runHubCli(hubState, ['invite', 'create'])).stdout.trim();
    await runMember({
      stateDir: join(dir, 'alice'), datapath: new MemoryClientDatapath(), log: testLogger,
      join: { url: `ws://127.0.0.1:${runtime.wsPort}`, token, name: 'alice' }, once: true, stopped: never,
    });
  });

  afterAll(async () => {
    if (serve && serve.exitCode === null) {
      const exited = new Promise((done) => serve.once('exit', done));
      serve.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('the hub logs the member\'s software from its hello when the session is established', async () => {
    await waitUntil(() => /session established/.test(output), 10_000, () => `the session line: ${output}`);
    const line = output.split('\n').filter((text) => text.startsWith('{')).map((text) => JSON.parse(text) as Record<string, unknown>)
      .find((record) => record.msg === 'session established');
    expect(line).toMatchObject({ peer: 'alice', software: `tunnel-client/${VERSION}` });
  });

  it('tunnel-hub status --json: the hub\'s version on top, and each member\'s software', async () => {
    const result = await runHubCli(join(dir, 'hub'), ['status', '--json']);
    expect(result.code).toBe(0);
    const status = JSON.parse(result.stdout) as { version: string; hub: { running: boolean }; peers: { name: string; software: string | null }[] };
    expect(status.version).toBe(VERSION);
    expect(status.hub.running).toBe(true);
    expect(status.peers).toEqual([expect.objectContaining({ name: 'alice', software: `tunnel-client/${VERSION}` })]);
  });

  it('the status page\'s sample carries both', async () => {
    const view = await getJson(runtime.admin.port, '/status.json') as { hub: { version: string }; peers: { name: string; software: string | null }[] };
    expect(view.hub.version).toBe(VERSION);
    expect(view.peers).toEqual([expect.objectContaining({ name: 'alice', software: `tunnel-client/${VERSION}` })]);
  });

  it('with no hub running, status --json still names this CLI\'s version and no member software', async () => {
    const stopped = join(dir, 'stopped');
    expect((await runHubCli(stopped, ['init', '--endpoint', '198.51.100.1', '--pool', '10.1.12.0/24'])).code).toBe(0);
    expect((await runHubCli(stopped, ['peer', 'add', 'bob'])).code).toBe(0);
    const status = JSON.parse((await runHubCli(stopped, ['status', '--json'])).stdout) as { version: string; hub: { running: boolean }; peers: { software: string | null }[] };
    expect(status).toMatchObject({ version: VERSION, hub: { running: false }, peers: [{ software: null }] });
  });

  it('tunnel-client status --json has the client\'s version on top', () => {
    const result = run(CLIENT_CLI, ['status', '--json', '--state', join(dir, 'alice')]);
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ version: VERSION, tunnels: [] });
  });
});
