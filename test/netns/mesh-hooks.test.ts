import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliIn, startCli, startServe, type CliProcess } from '../helpers/control-processes.js';
import { waitUntil } from '../helpers/wait-until.js';
import { createNatTopology, execIn, execInAsync, type NatTopology } from '../helpers/netns.js';
import { netnsUnavailableReason } from '../helpers/root.js';

const reason = netnsUnavailableReason();
if (reason) console.warn(`SKIPPED link hook netns tests: ${reason}`);

const HUB = '198.51.100.1';

type Event = Record<string, string>;

/** A hook that appends its TUNNEL_* environment, one line per run, to `file`. */
function recorder(dir: string, name: string): { hook: string; events(): Event[] } {
  const hook = join(dir, `${name}.sh`);
  const file = join(dir, `${name}.events`);
  writeFileSync(hook, `#!/bin/sh\nenv | grep '^TUNNEL_' | sort | tr '\\n' ' ' >> ${file}\necho >> ${file}\n`);
  chmodSync(hook, 0o755);
  return {
    hook,
    events: () => (existsSync(file) ? readFileSync(file, 'utf8') : '').trim().split('\n').filter(Boolean)
      .map((line) => Object.fromEntries(line.trim().split(' ').map((pair) => pair.split('=') as [string, string]))),
  };
}

describe.skipIf(reason !== null)('link hooks on the hub and a member: up, change (an address move), down', () => {
  let topo: NatTopology;
  let dir: string;
  let hubState: string;
  let hub: CliProcess | undefined;
  const members: CliProcess[] = [];
  let hubHook: ReturnType<typeof recorder>;
  let memberHook: ReturnType<typeof recorder>;

  const hubCli = (args: string[]): Promise<string> => runCliIn(topo.hub, 'server', ['--state', hubState, ...args]);
  const find = (events: Event[], event: string, extra: Event = {}): Event | undefined =>
    events.find((e) => e.TUNNEL_EVENT === event && Object.entries(extra).every(([k, v]) => e[k] === v));

  beforeAll(async () => {
    topo = createNatTopology();
    dir = mkdtempSync(join(tmpdir(), 'tunnel-hooks-'));
    hubState = join(dir, 'hub');
    hubHook = recorder(dir, 'hub-hook');
    memberHook = recorder(dir, 'member-hook');
    await hubCli(['init', '--endpoint', HUB, '--pool', '10.1.12.0/24']);
    hub = await startServe(topo.hub, hubState, ['--listen', HUB, '--keepalive', '0.5', '--liveness-timeout', '3', '--path-keepalive', '1', '--hook', hubHook.hook]);
  });

  afterAll(async () => {
    for (const member of members) await member.stop('SIGKILL');
    await hub?.stop();
    topo?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('both ends run their hook when the link comes up, with the link\'s facts', async () => {
    const invite = (await hubCli(['invite', 'create'])).trim();
    const c1 = startCli(topo.c1, 'client', ['join', `ws://${HUB}:8443`, '--token', invite, '--name', 'c1', '--state', join(dir, 'c1'), '--hook', memberHook.hook]);
    members.push(c1);
    await waitUntil(() => find(hubHook.events(), 'up') && find(memberHook.events(), 'up'), 20_000, () => `up hooks: ${c1.output()}`);
    expect(find(hubHook.events(), 'up')).toEqual({
      TUNNEL_EVENT: 'up', TUNNEL_PEER: 'c1', TUNNEL_IFACE: 'tnl-c1', TUNNEL_ENCAP: 'gre', TUNNEL_LOCAL: HUB, TUNNEL_REMOTE: '203.0.113.10',
      TUNNEL_INNER: '10.1.12.1/30', TUNNEL_PEER_INNER: '10.1.12.2', TUNNEL_MTU: '1472',
    });
    expect(find(memberHook.events(), 'up')).toEqual({
      TUNNEL_EVENT: 'up', TUNNEL_PEER: 'hub', TUNNEL_IFACE: 'tnl-hub', TUNNEL_ENCAP: 'gre', TUNNEL_LOCAL: '203.0.113.10', TUNNEL_REMOTE: HUB,
      TUNNEL_INNER: '10.1.12.2/30', TUNNEL_PEER_INNER: '10.1.12.1', TUNNEL_MTU: '1472',
    });
  });

  it('an address move runs `change` on both ends with the new address', async () => {
    const ifname = `${topo.prefix}c10`;
    // Deleting the primary address keeps the new one only when it is promoted.
    execIn(topo.c1, 'sysctl', ['-qw', `net.ipv4.conf.${ifname}.promote_secondaries=1`]);
    execIn(topo.c1, 'ip', ['addr', 'add', '203.0.113.11/24', 'dev', ifname]);
    execIn(topo.c1, 'ip', ['addr', 'del', '203.0.113.10/24', 'dev', ifname]);
    execIn(topo.c1, 'ip', ['route', 'replace', 'default', 'via', '203.0.113.254']);
    await waitUntil(() => find(hubHook.events(), 'change', { TUNNEL_REMOTE: '203.0.113.11' }) && find(memberHook.events(), 'change', { TUNNEL_LOCAL: '203.0.113.11' }),
      20_000, 'change hooks');
    expect(find(hubHook.events(), 'change')).toMatchObject({ TUNNEL_PEER: 'c1', TUNNEL_IFACE: 'tnl-c1', TUNNEL_LOCAL: HUB });
    expect(hubHook.events().filter((e) => e.TUNNEL_EVENT === 'down')).toEqual([]);
  });

  it('`down` on the member when it stops, and on the hub when the link falls silent', async () => {
    await members[0]!.stop();
    await waitUntil(() => find(memberHook.events(), 'down'), 5_000, 'member down hook');
    expect(find(memberHook.events(), 'down')).toMatchObject({ TUNNEL_IFACE: 'tnl-hub', TUNNEL_LOCAL: '203.0.113.11' });
    await waitUntil(() => find(hubHook.events(), 'down'), 10_000, 'hub down hook');
    expect(find(hubHook.events(), 'down')).toMatchObject({ TUNNEL_IFACE: 'tnl-c1', TUNNEL_REMOTE: '203.0.113.11' });
    expect(hubHook.events().map((e) => e.TUNNEL_EVENT)).toEqual(['up', 'change', 'down']);
    expect(memberHook.events().map((e) => e.TUNNEL_EVENT)).toEqual(['up', 'change', 'down']);
  });

  it('a hook that sleeps 60 s does not delay the tunnel, and is killed after 10 s', async () => {
    const sleeper = join(dir, 'sleep.sh');
    writeFileSync(sleeper, '#!/bin/sh\nsleep 60\n');
    chmodSync(sleeper, 0o755);
    const start = performance.now();
    const c3 = startCli(topo.nat, 'client', ['join', `ws://${HUB}:8443`, '--token', (await hubCli(['invite', 'create'])).trim(), '--name', 'c3',
      '--state', join(dir, 'c3'), '--hook', sleeper]);
    members.push(c3);
    await waitUntil(async () => (await execInAsync(topo.nat, 'ping', ['-c', '1', '-W', '1', '10.1.12.5'], 5_000)).code === 0, 20_000, () => `c3 ping: ${c3.output()}`);
    const upMs = performance.now() - start;
    console.log(`with a 60 s hook: join to the first answered ping through the tunnel in ${Math.round(upMs)} ms`);
    expect(upMs).toBeLessThan(8_000);
    expect(c3.output()).not.toMatch(/hook killed/);
    await waitUntil(() => /hook killed after 10000 ms/.test(c3.output()), 15_000, 'the hook killed at 10 s');
    expect((await execInAsync(topo.nat, 'ping', ['-c', '1', '-W', '1', '10.1.12.5'], 5_000)).code).toBe(0);
  });
});
