import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createNetnsHub, type NetnsHub } from '../helpers/netns-hub.js';
import { createNatTopology, execIn, execInAsync, type NatTopology } from '../helpers/netns.js';
import { netnsUnavailableReason } from '../helpers/root.js';
import { testScript } from '../helpers/test-scripts.js';
import { waitUntil } from '../helpers/wait-until.js';

const reason = netnsUnavailableReason();
if (reason) console.warn(`SKIPPED hub device refusal netns tests: ${reason}`);

const HUB = '198.51.100.1';
/** Pool 10.1.14.0/24: the first member's hub link .0/30 (member .2), the second's .4/30 (member .6). */
const INNER = { c1: '10.1.14.2', c2: '10.1.14.6' };

interface PeerRow { name: string; connected: boolean; prefix: string }

// The member-facing half of a refused device: a name on the hub taken by a device the hub does not
// own costs that member alone. Its session ends with the kernel's coded error naming the
// interface, the hub logs the cause once however often the member retries, counts every refusal,
// keeps serving the other member, and the member comes up by itself once the name is free.
describe.skipIf(reason !== null)('a member whose hub device the kernel refuses (netns)', () => {
  let topo: NatTopology;
  let hub: NetnsHub | undefined;

  const peers = async (): Promise<PeerRow[]> => (JSON.parse(await hub!.cli(['status', '--json'])) as { peers: PeerRow[] }).peers;
  const scrape = async (): Promise<string> => (await execInAsync(topo.hub, process.execPath, [testScript('http-get'), 'http://127.0.0.1:9470/metrics'])).stdout;
  const refusals = (metrics: string): number => Number(/^tunnel_hub_device_errors_total\{cause="name-clash"\} (\d+)/m.exec(metrics)?.[1] ?? NaN);
  const pingOk = async (ns: string, target: string): Promise<boolean> => (await execInAsync(ns, 'ping', ['-c', '1', '-W', '1', target], 5_000)).code === 0;

  beforeAll(async () => {
    topo = createNatTopology();
    hub = await createNetnsHub(topo.hub, { endpoint: HUB, pool: '10.1.14.0/24', tmpPrefix: 'tunnel-device-refused-' });
    // Another program's device holds the name the hub gives c1's tunnel.
    execIn(topo.hub, 'ip', ['tuntap', 'add', 'mode', 'tun', 'name', 'tnl-c1']);
    await hub.serve(['--keepalive', '0.5', '--liveness-timeout', '3', '--path-keepalive', '1']);
  });

  beforeEach((context) => {
    context.onTestFailed(() => console.log(`hub output (tail):\n${hub?.output().slice(-4000) ?? ''}\nmembers:\n${hub?.members.map((m) => m.output().slice(-2000)).join('\n---\n')}`));
  });

  afterAll(async () => {
    await hub?.close();
    topo?.destroy();
  });

  it('the member is told the coded error naming the interface; the hub logs the cause once, counts each refusal, and serves the other member', async () => {
    const c1 = await hub!.join(topo.c1, 'c1', { waitUp: false });
    await waitUntil(() => /ERR_ALREADY_EXISTS/.test(c1.output()), 20_000, () => `c1 told of the refusal: ${c1.output()}`);
    expect(c1.output()).toMatch(/ERR_ALREADY_EXISTS[^\n]*tnl-c1/);
    // The member retries on its own: a second refusal, still one log line for the cause.
    await waitUntil(async () => refusals(await scrape()) >= 2, 30_000, 'a second refusal after the member retried');

    await hub!.join(topo.c2, 'c2');
    await waitUntil(() => pingOk(topo.hub, INNER.c2), 10_000, 'hub -> c2 over its tunnel');

    const logged = hub!.output().split('\n').filter((line) => line.includes('tnl-c1') && /name-clash|ERR_ALREADY_EXISTS/.test(line));
    expect(logged).toHaveLength(1);
    // The foreign device is untouched, and nothing of c1 runs on the hub.
    const foreign = JSON.parse(execIn(topo.hub, 'ip', ['-j', '-d', 'link', 'show', 'dev', 'tnl-c1'])) as { ifalias?: string; group?: string }[];
    expect(foreign[0]?.ifalias).toBeUndefined();
    const rows = await peers();
    expect(rows.find((p) => p.name === 'c2')?.connected).toBe(true);
    // Nothing is lost: c1 keeps its peer record and its /30.
    expect(rows.find((p) => p.name === 'c1')).toMatchObject({ prefix: '10.1.14.0/30' });
  });

  it('once the name is free the member comes up by itself on its retry', async () => {
    execIn(topo.hub, 'ip', ['link', 'del', 'tnl-c1']);
    const c1 = hub!.members[0]!;
    await waitUntil(() => /tnl-hub up/.test(c1.output()), 60_000, () => `c1 up after the name was freed: ${c1.output()}`);
    await waitUntil(() => pingOk(topo.c1, INNER.c2), 20_000, 'c1 -> c2 through the hub');
    const alias = JSON.parse(execIn(topo.hub, 'ip', ['-j', '-d', 'link', 'show', 'dev', 'tnl-c1'])) as { ifalias?: string }[];
    expect(alias[0]?.ifalias).toMatch(/^tunnel-hub:/);
  });
});
