import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { netnsUnavailableReason } from '../helpers/root.js';
import { createNatTopology, execIn, execInAsync, type NatTopology } from '../helpers/netns.js';
import { longestReplyGap, runCliIn, startCli, startServe, type CliProcess } from '../helpers/control-processes.js';
import { waitUntil } from '../helpers/wait-until.js';
import { generateEd25519KeyPair } from '../../shared/ssh/generate-ed25519-key-pair.js';

const reason = netnsUnavailableReason();
if (reason) console.warn(`skipping control netns tests: ${reason}`);

const HUB = '198.51.100.1';
const HUB_INNER = '10.1.12.1';

describe.skipIf(reason !== null)('hub and members in namespaces (hub / wan / c1 / nat / c2)', () => {
  let topo: NatTopology;
  let dir: string;
  let hubState: string;
  let c1State: string;
  let hub: CliProcess | undefined;
  let member: CliProcess | undefined;
  const others: CliProcess[] = [];

  const startHub = async (): Promise<CliProcess> => {
    const proc = await startServe(topo.hub, hubState, ['--listen', HUB, '--keepalive', '0.5', '--liveness-timeout', '2']);
    return proc;
  };
  const hubStatus = async (): Promise<{ peers: { name: string; connected: boolean; endpoint: { seen: string | null; reported: string | null }; nat: boolean; specVersion: { hub: { issued: number; applied: number }; peer: { issued: number; acked: number } } | null; counters: { rx: { packets: number } } | null }[] }> =>
    JSON.parse(await runCliIn(topo.hub, 'server', ['--state', hubState, 'status', '--json']));
  const pingOk = async (ns: string, target = HUB_INNER): Promise<boolean> => (await execInAsync(ns, 'ping', ['-c', '1', '-W', '1', target], 5_000)).code === 0;

  beforeAll(() => {
    topo = createNatTopology();
    dir = mkdtempSync(join(tmpdir(), 'tunnel-control-netns-'));
    hubState = join(dir, 'hub');
    c1State = join(dir, 'c1');
    execIn(topo.c1, 'sysctl', ['-qw', `net.ipv4.conf.${topo.prefix}c10.promote_secondaries=1`]);
  });
  afterAll(async () => {
    await member?.stop('SIGKILL');
    for (const proc of others) await proc.stop('SIGKILL');
    await hub?.stop();
    topo?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('c1 joins over WebSocket with an invite and pings the hub through GRE', async () => {
    await runCliIn(topo.hub, 'server', ['--state', hubState, 'init', '--endpoint', HUB, '--pool', '10.1.12.0/24']);
    hub = await startHub();
    const invite = (await runCliIn(topo.hub, 'server', ['--state', hubState, 'invite', 'create'])).trim();
    member = startCli(topo.c1, 'client', ['join', `ws://${HUB}:8443`, '--token', invite, '--name', 'c1', '--state', c1State]);
    await waitUntil(() => /tnl-hub up/.test(member?.output() ?? ''), 20_000, () => `c1 join: ${member?.output() ?? ''}`);
    await waitUntil(() => pingOk(topo.c1), 10_000, 'ping through GRE');
    const c1 = (await hubStatus()).peers.find((p) => p.name === 'c1');
    expect(c1).toMatchObject({ connected: true, endpoint: { seen: '203.0.113.10', reported: '203.0.113.10' }, nat: false });
    expect(c1?.counters?.rx.packets).toBeGreaterThan(0);
    const clientStatus = JSON.parse(execIn(topo.c1, process.execPath, [join(process.cwd(), 'dist/client/cli.js'), 'status', '--json', '--state', c1State])) as { tunnels: { name: string; inner: string; remote: string }[] };
    expect(clientStatus.tunnels).toContainEqual(expect.objectContaining({ name: 'tnl-hub', inner: '10.1.12.2/30', remote: HUB }));
  });

  it('after a client restart, `run` brings the tunnel back with the same /30 and no token', async () => {
    expect(await member?.stop()).toBe(0);
    member = startCli(topo.c1, 'client', ['run', '--state', c1State]);
    await waitUntil(() => /tnl-hub up/.test(member?.output() ?? ''), 20_000, () => `c1 run: ${member?.output() ?? ''}`);
    await waitUntil(() => pingOk(topo.c1), 10_000, 'ping after run');
    const saved = JSON.parse(readFileSync(join(c1State, 'client.json'), 'utf8')) as { config: { tunnels: { address: string }[] } };
    expect(saved.config.tunnels[0]?.address).toBe('10.1.12.2/30');
  });

  it('moving c1 from 203.0.113.10 to .11 reconfigures both ends and pings resume', async () => {
    const before = (await hubStatus()).peers.find((p) => p.name === 'c1')?.specVersion;
    const { gapMs, replies } = await longestReplyGap(topo.c1, HUB_INNER, 8, async () => {
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const ifname = `${topo.prefix}c10`;
      execIn(topo.c1, 'ip', ['addr', 'add', '203.0.113.11/24', 'dev', ifname]);
      execIn(topo.c1, 'ip', ['addr', 'del', '203.0.113.10/24', 'dev', ifname]);
      execIn(topo.c1, 'ip', ['route', 'replace', 'default', 'via', '203.0.113.254']);
    });
    console.log(`address move: longest gap between ping replies ${gapMs} ms (${replies} replies)`);
    expect(replies).toBeGreaterThan(50);
    const after = (await hubStatus()).peers.find((p) => p.name === 'c1');
    expect(after).toMatchObject({ connected: true, endpoint: { seen: '203.0.113.11', reported: '203.0.113.11' } });
    expect(after?.specVersion?.hub.applied).toBe((before?.hub.issued ?? 0) + 1);
    expect(after?.specVersion?.peer.acked).toBe((before?.peer.issued ?? 0) + 1);
  });

  it('after a hub restart the client reconnects and traffic resumes on the same /30', async () => {
    expect(await hub?.stop()).toBe(0);
    expect(execIn(topo.hub, 'ip', ['-o', 'link', 'show'])).not.toMatch(/tnl-c1/);
    hub = await startHub();
    await waitUntil(async () => (await hubStatus()).peers.find((p) => p.name === 'c1')?.connected, 30_000, 'c1 reconnected');
    await waitUntil(() => pingOk(topo.c1), 10_000, 'ping after hub restart');
    expect(execIn(topo.hub, 'ip', ['-o', 'addr', 'show', 'dev', 'tnl-c1'])).toMatch(/10\.1\.12\.1/);
  });

  it('a second member joins over SSH with a key registered by `peer add --ssh-key`', async () => {
    const pair = generateEd25519KeyPair('test');
    const keyFile = join(dir, 'c2-key');
    writeFileSync(keyFile, pair.private, { mode: 0o600 });
    await runCliIn(topo.hub, 'server', ['--state', hubState, 'peer', 'add', 'c2', '--ssh-key', pair.public]);
    // c2 sits behind the NAT: it joins and gets its spec.
    await runCliIn(topo.c2, 'client', ['join', `ssh://c2@${HUB}:2222`, '--key', keyFile, '--once', '--state', join(dir, 'c2')]);
    const saved = JSON.parse(readFileSync(join(dir, 'c2', 'client.json'), 'utf8')) as { peer: string; config: { tunnels: { local: string; remote: string; address: string }[] } };
    expect(saved.peer).toBe('c2');
    expect(saved.config.tunnels[0]).toMatchObject({ local: '192.168.77.2', remote: HUB, address: '10.1.12.6/30' });
    const c2 = (await hubStatus()).peers.find((p) => p.name === 'c2');
    expect(c2).toMatchObject({ endpoint: { seen: '192.0.2.20', reported: '192.168.77.2' }, nat: true });
  });

  it('kill -9 of the client: the hub shows it down after its liveness timeout', async () => {
    await member?.stop('SIGKILL');
    member = undefined;
    const started = Date.now();
    await waitUntil(async () => (await hubStatus()).peers.find((p) => p.name === 'c1')?.connected === false, 15_000, 'c1 down');
    // The kernel closes a killed process's socket, so this is usually faster than the 2 s timeout;
    // a silent death (no FIN) is covered by the liveness test in test/integration.
    console.log(`c1 marked down ${Date.now() - started} ms after kill -9`);
  });
});
