import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/netns.js';

/** As on a fresh machine: no npm_config_* or npm_package_* left over from the `npm test` that runs us. */
const cleanEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  HOME: process.env.HOME ?? '/root', PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8', ...extra,
});

/** Runs a command to its end without blocking the test worker (the install takes minutes). */
function run(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.on('error', (err) => resolve({ status: null, output: `${output}${String(err)}` }));
    child.on('close', (status) => resolve({ status, output }));
  });
}

const npmMissing = spawnSync('npm', ['--version']).error ? 'npm is missing' : null;
if (npmMissing) console.warn(`SKIPPING the package install test: ${npmMissing}`);

describe.skipIf(npmMissing !== null)('npm pack, then npm install -g of the tarball into a fresh prefix', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tunnel-package-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('puts a working tunnel-hub and tunnel-client on the PATH, with SQLite and the addon compiled there and nothing fetched but packages', async () => {
    const packed = await run('npm', ['pack', '--pack-destination', dir], { cwd: repoRoot() });
    expect(packed.status, packed.output).toBe(0);
    const tarball = readdirSync(dir).find((name) => /^tunnel-coordinator-.*\.tgz$/.test(name));
    expect(tarball).toBeDefined();
    const listing = (await run('tar', ['tzf', join(dir, tarball ?? '')])).output.split('\n');
    for (const file of ['package/dist/server/cli.js', 'package/dist/client/cli.js', 'package/native/binding.gyp', 'package/native/src/addon.cc',
      'package/systemd/tunnel-hub.service', 'package/systemd/tunnel-client.service', 'package/.prebuild-installrc', 'package/README.md']) {
      expect(listing).toContain(file);
    }
    expect(listing.filter((file) => /^package\/(test|bench|dist\/test|dist\/bench|node_modules)\//.test(file) || file.endsWith('.map'))).toEqual([]);

    // A prefix of its own; the machine's global npm config (CA file, registry) still applies.
    const prefix = join(dir, 'prefix');
    const globalconfig = (await run('npm', ['config', 'get', 'globalconfig'])).output.trim();
    const registry = (await run('npm', ['config', 'get', 'registry'])).output.trim().replace(/\/$/, '');
    const installed = await run('npm', ['install', '-g', '--prefix', prefix, '--globalconfig', globalconfig, join(dir, tarball ?? ''),
      `--allow-scripts=${join(dir, tarball ?? '')},better-sqlite3,ssh2,cpu-features`, '--foreground-scripts', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=http']);
    expect(installed.status, installed.output.slice(-4000)).toBe(0);
    const fetched = installed.output.split('\n').filter((line) => /^npm http fetch /.test(line));
    expect(fetched.filter((line) => !line.includes(` ${registry}/`))).toEqual([]);
    expect(installed.output).not.toMatch(/prebuild-install (warn|http)|downloading/i);
    for (const output of [packed.output, installed.output]) expect(output).not.toMatch(/npm warn (Unknown|invalid) .*config|npm warn install-scripts/i);

    // better-sqlite3 and the addon were compiled here, not fetched prebuilt, and prebuild-install
    // reads build-from-source from the package's own .prebuild-installrc.
    const packageDir = join(prefix, 'lib', 'node_modules', 'tunnel-coordinator');
    const sqliteDir = join(packageDir, 'node_modules', 'better-sqlite3');
    expect(existsSync(join(sqliteDir, 'build', 'Release', 'obj.target'))).toBe(true);
    expect(existsSync(join(packageDir, 'native', 'build', 'Release', 'tunnel_native.node'))).toBe(true);
    const rc = await run(process.execPath, ['-e', 'console.log(JSON.stringify(require("../prebuild-install/rc.js")(require("./package.json"))))'], { cwd: sqliteDir });
    expect(JSON.parse(rc.output).buildFromSource).toBe(true);

    const path = `${join(prefix, 'bin')}:${process.env.PATH ?? ''}`;
    const env = cleanEnv({ PATH: path });
    const state = join(dir, 'hub-state');
    expect((await run('sh', ['-c', 'command -v tunnel-hub && command -v tunnel-client'], { env })).output).toBe(`${join(prefix, 'bin', 'tunnel-hub')}\n${join(prefix, 'bin', 'tunnel-client')}\n`);
    expect(await run('tunnel-hub', ['--help'], { env })).toMatchObject({ status: 0, output: expect.stringContaining('Usage: tunnel-hub') });
    expect(await run('tunnel-client', ['--help'], { env })).toMatchObject({ status: 0, output: expect.stringContaining('Usage: tunnel-client') });
    expect((await run('tunnel-hub', ['--state', state, 'init', '--endpoint', '192.0.2.1', '--pool', '10.1.12.0/24'], { env })).status).toBe(0);
    const peer = await run('tunnel-hub', ['--state', state, 'peer', 'add', 'alice', '--json'], { env });
    expect(JSON.parse(peer.output).peer.name).toBe('alice');
    expect((await run('tunnel-hub', ['--state', state, 'peer', 'table', 'alice'], { env })).output).toContain('Address on the /30');
    // The addon loads (a fast route is an object of the addon's own; nothing is opened).
    const addon = await run(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(join(packageDir, 'dist', 'native', 'index.js'))}); console.log(typeof m.createFastRoute())`], { env });
    expect(addon).toMatchObject({ status: 0, output: 'object\n' });
    const refused = await run('tunnel-client', ['up', '--local', '192.0.2.1', '--remote', '192.0.2.2', '--encap', 'nope', '--address', '10.0.0.1/30', '--peer-address', '10.0.0.2'], { env });
    expect(refused.status).toBe(1);
    expect(refused.output).toMatch(/^tunnel-client: ERR_INVALID_ARGUMENT: /);
  });
});
