import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { netnsUnavailableReason } from '../helpers/root.js';
import { createNatTopology, execIn, execInAsync, runNodeIn, type NatTopology } from '../helpers/netns.js';
import { longestReplyGap, runCliIn, startCli, startServe, type CliProcess } from '../helpers/control-processes.js';
import { waitUntil } from '../helpers/wait-until.js';
import { opensshExec } from '../helpers/ssh-exec.js';
import { testScript } from '../helpers/test-scripts.js';
import { generateEd25519KeyPair } from '../../shared/ssh/generate-ed25519-key-pair.js';

const reason = netnsUnavailableReason();
if (reason) console.warn(`skipping NAT end-to-end netns tests: ${reason}`);

const HUB = '198.51.100.1';
/** Pool 10.1.12.0/24: c1's hub link .0/30, c2's .4/30, the c1<->c2 link .8/30. */
const INNER = { hubForC1: '10.1.12.1', hubForC2: '10.1.12.5', c2OnHubLink: '10.1.12.6', c1OnLink: '10.1.12.9', c2OnLink: '10.1.12.10' };

interface PeerStatusLine {
  name: string;
  connected: boolean;
  encap: string;
  encapReason: string | null;
  probes: { gre?: boolean; fou?: boolean; gue?: boolean } | null;
  nat: boolean;
  keepaliveInterval: number | null;
  binding: { state: string; address: string | null; port: number | null } | null;
}
interface HubStatusJson {
  peers: PeerStatusLine[];
  links: { ends: string[]; encap: string; reason: string | null; reachable: boolean | null }[];
}

describe.skipIf(reason !== null)('through the NAT end to end: GRE for c1, FOU/GUE for c2, c1<->c2 link, re-mapping, forged hellos, stock ssh', () => {
  let topo: NatTopology;
  let dir: string;
  let hubState: string;
  let keyFile: string;
  let hub: CliProcess | undefined;
  const members: CliProcess[] = [];

  const hubCli = (args: string[]): Promise<string> => runCliIn(topo.hub, 'server', ['--state', hubState, ...args]);
  const hubStatus = async (): Promise<HubStatusJson> => JSON.parse(await hubCli(['status', '--json'])) as HubStatusJson;
  const peer = async (name: string): Promise<PeerStatusLine | undefined> => (await hubStatus()).peers.find((p) => p.name === name);
  const pingOk = async (ns: string, target: string): Promise<boolean> => (await execInAsync(ns, 'ping', ['-c', '1', '-W', '1', target], 5_000)).code === 0;
  const clientStatus = (ns: string, state: string): { tunnels: { name: string; encap: string; encapReason?: string }[] } =>
    JSON.parse(execIn(ns, process.execPath, [join(process.cwd(), 'dist/client/cli.js'), 'status', '--json', '--state', state])) as { tunnels: { name: string; encap: string; encapReason?: string }[] };

  beforeAll(async () => {
    topo = createNatTopology();
    // The helper's masquerade keeps the source port when it can, so a conntrack flush would hand c2
    // the same mapping again; fully-random makes every new mapping take a new port, as a carrier
    // NAT does, so the re-mapping test really moves the binding.
    execIn(topo.nat, 'nft', ['-f', '-'], `flush chain ip nat post\nadd rule ip nat post oifname "${topo.prefix}nato" masquerade fully-random\n`);
    dir = mkdtempSync(join(tmpdir(), 'tunnel-nat-e2e-'));
    hubState = join(dir, 'hub');
    await hubCli(['init', '--endpoint', HUB, '--pool', '10.1.12.0/24']);
    hub = await startServe(topo.hub, hubState, ['--listen', HUB, '--keepalive', '0.5', '--liveness-timeout', '3', '--path-keepalive', '1']);
  });

  afterAll(async () => {
    for (const member of members) await member.stop('SIGKILL');
    await hub?.stop();
    topo?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('c1 (public) gets GRE, its probe is answered, and it pings the hub', async () => {
    const invite = (await hubCli(['invite', 'create'])).trim();
    const c1 = startCli(topo.c1, 'client', ['join', `ws://${HUB}:8443`, '--token', invite, '--name', 'c1', '--state', join(dir, 'c1')]);
    members.push(c1);
    await waitUntil(() => /tnl-hub up/.test(c1.output()), 20_000, () => `c1 join: ${c1.output()}`);
    await waitUntil(() => pingOk(topo.c1, INNER.hubForC1), 15_000, 'c1 ping through GRE');
    const line = await waitUntil(async () => {
      const status = await peer('c1');
      return status?.probes?.gre === true ? status : undefined;
    }, 15_000, 'c1 probe answered');
    expect(line).toMatchObject({ encap: 'gre', encapReason: 'public', nat: false, keepaliveInterval: 1, binding: null });
    expect(clientStatus(topo.c1, join(dir, 'c1')).tunnels).toContainEqual(expect.objectContaining({ name: 'tnl-hub', encap: 'gre', encapReason: 'public' }));
  });

  it('c2 (behind the NAT) joins over SSH, gets FOU for nat-detected, binds by hello and pings the hub', async () => {
    const pair = generateEd25519KeyPair('test');
    keyFile = join(dir, 'c2-key');
    writeFileSync(keyFile, pair.private, { mode: 0o600 });
    await hubCli(['peer', 'add', 'c2', '--ssh-key', pair.public]);
    const c2 = startCli(topo.c2, 'client', ['join', `ssh://c2@${HUB}:2222`, '--key', keyFile, '--state', join(dir, 'c2')]);
    members.push(c2);
    await waitUntil(() => /tnl-hub up/.test(c2.output()), 20_000, () => `c2 join: ${c2.output()}`);
    await waitUntil(() => pingOk(topo.c2, INNER.hubForC2), 15_000, 'c2 ping through FOU');
    const line = await waitUntil(async () => {
      const status = await peer('c2');
      return status?.binding?.state === 'bound' ? status : undefined;
    }, 15_000, 'c2 bound');
    expect(line).toMatchObject({ encap: 'fou', encapReason: 'nat-detected', nat: true, binding: { address: topo.addresses.natOutside } });
    await waitUntil(async () => (await peer('c2'))?.probes?.fou === true, 10_000, 'c2 FOU probe answered (hello-ack)');
    expect(clientStatus(topo.c2, join(dir, 'c2')).tunnels).toContainEqual(expect.objectContaining({ name: 'tnl-hub', encap: 'fou', encapReason: 'nat-detected' }));
  });

  it('`peer pin c2 --encap gue` moves c2 to GUE live; `auto` brings FOU back', async () => {
    await hubCli(['peer', 'pin', 'c2', '--encap', 'gue']);
    await waitUntil(async () => (await peer('c2'))?.encap === 'gue', 15_000, 'c2 on gue');
    await waitUntil(() => pingOk(topo.c2, INNER.hubForC2), 15_000, 'c2 ping through GUE');
    expect(await peer('c2')).toMatchObject({ encapReason: 'pinned' });
    await waitUntil(() => clientStatus(topo.c2, join(dir, 'c2')).tunnels.some((t) => t.name === 'tnl-hub' && t.encap === 'gue' && t.encapReason === 'pinned'), 10_000, 'c2 status gue');
    await hubCli(['peer', 'pin', 'c2', '--encap', 'auto']);
    await waitUntil(async () => (await peer('c2'))?.encap === 'fou', 15_000, 'c2 back on fou');
    await waitUntil(() => pingOk(topo.c2, INNER.hubForC2), 15_000, 'c2 ping through FOU again');
  });

  it('`link add c1 c2`: c1 and c2 ping each other over their own link (c2 opens it with a hello)', async () => {
    await hubCli(['link', 'add', 'c1', 'c2']);
    await waitUntil(() => pingOk(topo.c2, INNER.c1OnLink), 20_000, 'c2 -> c1 over the link');
    await waitUntil(() => pingOk(topo.c1, INNER.c2OnLink), 10_000, 'c1 -> c2 over the link');
    const link = (await hubStatus()).links[0];
    expect(link).toMatchObject({ ends: ['c1', 'c2'], encap: 'fou', reason: 'nat-detected', reachable: true });
    // The packets take the direct path: c1's end sees c2's NAT, not the hub.
    expect(execIn(topo.c1, 'ip', ['-o', 'addr', 'show', 'dev', 'tnl-c2'])).toMatch(/10\.1\.12\.9/);
  });

  it('a NAT re-mapping (conntrack flushed, new random port) recovers through a new authenticated hello', async () => {
    const before = await peer('c2');
    const { gapMs, replies } = await longestReplyGap(topo.c2, INNER.hubForC2, 8, async () => {
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      execIn(topo.nat, 'conntrack', ['-F']);
    });
    const after = await waitUntil(async () => {
      const status = await peer('c2');
      return status?.binding?.state === 'bound' && status.binding.port !== before?.binding?.port ? status : undefined;
    }, 10_000, 'binding moved to the new port');
    console.log(`NAT re-mapping: port ${before?.binding?.port ?? '?'} -> ${after.binding?.port ?? '?'}, longest gap between ping replies ${gapMs} ms (${replies} replies)`);
    expect(replies).toBeGreaterThan(100);
    await waitUntil(() => pingOk(topo.c2, INNER.c1OnLink), 15_000, 'the c1<->c2 link recovers too');
  });

  it("forged hellos from a third host claiming c2's binding move nothing and get no answer", async () => {
    const before = await peer('c2');
    const bindingId = 2; // c2's hub link is the registry's second link
    const { gapMs } = await longestReplyGap(topo.c2, INNER.hubForC2, 5, async () => {
      const forger = await runNodeIn(topo.c1, testScript('udp-hello-forger'), [HUB, String(bindingId)]) as { received: number };
      expect(forger.received).toBe(0);
    });
    const after = await peer('c2');
    expect(after?.binding).toMatchObject({ state: 'bound', address: before?.binding?.address, port: before?.binding?.port });
    console.log(`forged hellos: c2's longest gap between ping replies ${gapMs} ms`);
    expect(gapMs).toBeLessThan(1_500);
  });

  it('a stock ssh client runs `endpoint` and `table`; the table matches `tunnel-hub peer table --json`', async () => {
    const prefix = ['ip', 'netns', 'exec', topo.c2];
    const table = await opensshExec(2222, 'c2', keyFile, 'table --json', HUB, prefix);
    expect(table.code, table.stderr).toBe(0);
    const expected = JSON.parse(await hubCli(['peer', 'table', 'c2', '--json'])) as unknown;
    const tables = JSON.parse(table.stdout) as unknown[];
    expect(tables[0]).toEqual(expected);
    expect(tables).toHaveLength(2);
    const endpoint = await opensshExec(2222, 'c2', keyFile, 'endpoint --json', HUB, prefix);
    expect(endpoint.code, endpoint.stderr).toBe(0);
    expect((JSON.parse(endpoint.stdout) as unknown[])[0]).toEqual(JSON.parse(await hubCli(['peer', 'table', 'c2', '--json'])));
    const refused = await opensshExec(2222, 'c2', keyFile, 'endpoint 192.168.77.2', HUB, prefix);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^ERR_ENDPOINT_UNVERIFIED: /);
    // The shell report came from the NAT's address, as the session's does: c2 stays on FOU and pings.
    expect(await peer('c2')).toMatchObject({ encap: 'fou', nat: true });
    await waitUntil(() => pingOk(topo.c2, INNER.hubForC2), 10_000, 'c2 ping after the shell report');
  });
});
