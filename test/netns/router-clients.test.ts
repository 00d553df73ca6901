import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliIn, serveRuntime, startCli, type CliProcess } from '../helpers/control-processes.js';
import { waitUntil } from '../helpers/wait-until.js';
import { createPairTopology, execIn, execInAsync, type PairTopology } from '../helpers/netns.js';
import { netnsUnavailableReason } from '../helpers/root.js';

/** Why the real router clients cannot run here, or null. */
function clientsUnavailableReason(): string | null {
  for (const tool of ['ddclient', 'dbclient', 'dropbearkey']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `${tool} is missing (\`npm run setup:test\` installs ddclient and dropbear-bin)`;
    }
  }
  return null;
}

const reason = netnsUnavailableReason() ?? clientsUnavailableReason();
if (reason) console.warn(`skipping router-clients: ${reason}`);

// Hub in A (192.0.2.1), the router in B. B has no default route, so neither client can reach
// anything but the hub.
describe.skipIf(reason)("routers' own clients: Debian's ddclient (dyndns2) and dropbear's dbclient", () => {
  let topo: PairTopology;
  let dir: string;
  let hubState: string;
  let hub: CliProcess | undefined;
  let sshPort = 0;
  let wsPort = 0;

  const hubCli = (...args: string[]): Promise<string> => runCliIn(topo.a, 'server', ['--state', hubState, ...args]);
  const peerTable = async (): Promise<{ ends: { name: string; public: string | null }[] }> =>
    JSON.parse(await hubCli('peer', 'table', 'router', '--json')) as { ends: { name: string; public: string | null }[] };

  beforeAll(async () => {
    topo = createPairTopology();
    dir = mkdtempSync(join(tmpdir(), 'tc-router-clients-'));
    hubState = join(dir, 'hub');
    await hubCli('init', '--endpoint', topo.aAddress, '--pool', '10.1.15.0/24');
    hub = startCli(topo.a, 'server', ['--state', hubState, 'serve', '--listen', topo.aAddress]);
    const runtime = await waitUntil(() => (serveRuntime(hubState)?.pid === hub?.child.pid ? serveRuntime(hubState) : undefined), 20_000, () => `hub listening: ${hub?.output() ?? ''}`);
    ({ sshPort, wsPort } = runtime);
    execIn(topo.b, 'sysctl', ['-qw', `net.ipv4.conf.${topo.bInterface}.promote_secondaries=1`]);
  });

  afterAll(async () => {
    await hub?.stop();
    topo?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('ddclient moves the peer\'s endpoint, and the hub re-aims its end', async () => {
    const dropbearKey = join(dir, 'id_dropbear');
    execFileSync('dropbearkey', ['-t', 'ed25519', '-f', dropbearKey], { stdio: 'pipe' });
    const publicLine = execFileSync('dropbearkey', ['-y', '-f', dropbearKey], { encoding: 'utf8' }).split('\n').find((line) => line.startsWith('ssh-ed25519 '));
    expect(publicLine).toBeDefined();
    await hubCli('peer', 'add', 'router', '--ssh-key', publicLine!);
    const key = (await hubCli('peer', 'update-key', 'router')).trim();
    // ddclient's own config and cache, never the system's; one update per run, then exit.
    const conf = join(dir, 'ddclient.conf');
    writeFileSync(conf, [
      'daemon=0', 'min-interval=0', 'ssl=no', 'protocol=dyndns2', `server=${topo.aAddress}:${String(wsPort)}`,
      `use=if, if=${topo.bInterface}`, 'login=router', `password='${key}'`, 'router', '',
    ].join('\n'), { mode: 0o600 });
    const ddclient = (): Promise<{ code: number | null; stdout: string; stderr: string }> => execInAsync(topo.b, 'ddclient',
      ['-file', conf, '-cache', join(dir, 'ddclient.cache'), '-foreground', '-daemon', '0', '-verbose', '-noquiet'], 60_000);

    const first = await ddclient();
    // ddclient 3.10 names no host in its SUCCESS line; a FAILED line would mean it misread the answer.
    expect(first.stderr + first.stdout).toMatch(/^SUCCESS: +updating .*good: IP address set to 192\.0\.2\.2$/m);
    expect(first.stderr + first.stdout).not.toMatch(/^FAILED: +updating router/m);
    expect((await peerTable()).ends[1]?.public).toBe('192.0.2.2');
    const routerStatus = async (): Promise<{ endpoint: { seen: string | null }; specVersion: { hub: { applied: number } } | null } | undefined> =>
      (JSON.parse(await hubCli('status', '--json')) as { peers: { name: string; endpoint: { seen: string | null }; specVersion: { hub: { applied: number } } | null }[] })
        .peers.find((p) => p.name === 'router');
    const before = await routerStatus();
    expect(before?.endpoint.seen).toBe('192.0.2.2');
    expect(before?.specVersion?.hub.applied).toBeGreaterThan(0);

    execIn(topo.b, 'ip', ['addr', 'add', '192.0.2.3/24', 'dev', topo.bInterface]);
    execIn(topo.b, 'ip', ['addr', 'del', '192.0.2.2/24', 'dev', topo.bInterface]);
    const second = await ddclient();
    expect(second.stderr + second.stdout).toMatch(/^SUCCESS: +updating .*good: IP address set to 192\.0\.2\.3$/m);
    expect(second.stderr + second.stdout).not.toMatch(/^FAILED: +updating router/m);
    expect((await peerTable()).ends[1]?.public).toBe('192.0.2.3');
    const after = await routerStatus();
    expect(after?.endpoint.seen).toBe('192.0.2.3');
    // The hub's datapath runs a newer version of its end: the one aimed at the new address.
    expect(after?.specVersion?.hub.applied).toBeGreaterThan(before!.specVersion!.hub.applied);
  });

  it('dbclient runs endpoint, table and config', async () => {
    const dbclient = (command: string): Promise<{ code: number | null; stdout: string; stderr: string }> => execInAsync(topo.b, 'env',
      [`HOME=${dir}`, 'dbclient', '-y', '-y', '-i', join(dir, 'id_dropbear'), '-p', String(sshPort), `router@${topo.aAddress}`, command], 30_000);
    execIn(topo.b, 'ip', ['addr', 'flush', 'dev', topo.bInterface]);
    execIn(topo.b, 'ip', ['addr', 'add', '192.0.2.4/24', 'dev', topo.bInterface]);
    const endpoint = await dbclient('endpoint --json');
    expect(endpoint.code, endpoint.stderr).toBe(0);
    const tables = JSON.parse(endpoint.stdout) as { ends: { name: string; public: string | null }[] }[];
    expect(tables[0]?.ends[1]).toMatchObject({ name: 'router', public: '192.0.2.4' });
    expect((await peerTable()).ends[1]?.public).toBe('192.0.2.4');

    const table = await dbclient('table');
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/My end\s+The other end/);

    const openwrt = await dbclient('config openwrt');
    expect(openwrt.code, openwrt.stderr).toBe(0);
    expect(openwrt.stdout).toContain(`set network.tchub.peeraddr='${topo.aAddress}'`);
    expect(openwrt.stdout).toContain(`URL="http://router:$KEY@${topo.aAddress}:${String(wsPort)}/nic/update?hostname=router"`);
    const routeros = await dbclient('config routeros');
    expect(routeros.code).toBe(1);
    expect(routeros.stderr).toMatch(/^ERR_TARGET_UNSUPPORTED: routeros cannot set a GRE key; run `tunnel-hub peer set router --no-key`/m);
  });
});
