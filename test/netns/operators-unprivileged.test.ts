import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../helpers/wait-until.js';
import { createNatTopology, execInAsync, type NatTopology } from '../helpers/netns.js';
import { metricValue, promtoolCheck, promtoolUnavailableReason } from '../helpers/prometheus-text.js';
import { netnsUnavailableReason } from '../helpers/root.js';
import { testScript } from '../helpers/test-scripts.js';
import {
  NET_ADMIN_AND_RAW, openTunNode, processIdentity, runUnprivileged, spawnUnprivileged, unprivilegedCommand,
  unprivilegedUnavailableReason, unusedUid, type Identity,
} from '../helpers/unprivileged.js';

const reason = netnsUnavailableReason() ?? unprivilegedUnavailableReason();
if (reason) console.warn(`SKIPPING the unprivileged hub and member test: ${reason}`);
const promtoolMissing = promtoolUnavailableReason();
if (promtoolMissing) console.warn(`SKIPPING the promtool checks of the unprivileged test: ${promtoolMissing}`);

/** GET http://127.0.0.1:PORT/metrics from inside `namespace`. */
async function scrape(namespace: string, port: number): Promise<string> {
  const result = await execInAsync(namespace, process.execPath, [testScript('http-get'), `http://127.0.0.1:${port}/metrics`]);
  if (result.code !== 0) throw new Error(`scrape of port ${port} in ${namespace} failed: ${result.stderr}`);
  return result.stdout;
}

describe.skipIf(reason !== null)('hub and member as an unprivileged user with CAP_NET_ADMIN and CAP_NET_RAW only (as the systemd units run them)', () => {
  let topo: NatTopology;
  let dir: string;
  let tunNode: string;
  let uid: number;
  const running: ReturnType<typeof spawnUnprivileged>[] = [];
  const withCaps = (): Identity => ({ uid, caps: '+net_admin,+net_raw' });
  const noCaps = (): Identity => ({ uid, caps: '' });

  beforeAll(() => {
    topo = createNatTopology();
    dir = mkdtempSync(join(tmpdir(), 'tunnel-unprivileged-'));
    chmodSync(dir, 0o755);
    uid = unusedUid();
    for (const sub of ['hub', 'member', 'member2', 'home']) {
      mkdirSync(join(dir, sub), { mode: 0o700 });
      chownSync(join(dir, sub), uid, uid);
    }
    tunNode = openTunNode(dir);
  });
  afterAll(async () => {
    for (const proc of running.reverse()) {
      proc.child.kill('SIGTERM');
      await new Promise((resolve) => {
        if (proc.child.exitCode !== null || proc.child.signalCode !== null) resolve(undefined);
        else proc.child.once('exit', resolve);
        setTimeout(() => proc.child.kill('SIGKILL'), 10_000).unref();
      });
    }
    topo?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('init, serve, join and ping, with every file the user\'s and the keys 0600', async () => {
    const hubCmd = (who: Identity, args: string[]) => unprivilegedCommand(topo.hub, who, tunNode, join(dir, 'home'), 'server', ['--state', join(dir, 'hub'), ...args]);
    const init = runUnprivileged(hubCmd(noCaps(), ['init', '--endpoint', topo.addresses.hub, '--pool', '10.1.12.0/24']));
    expect(init.status, init.stderr).toBe(0);

    const hub = spawnUnprivileged(hubCmd(withCaps(), ['serve', '--listen', topo.addresses.hub]));
    running.push(hub);
    await waitUntil(() => /hub listening/.test(hub.output()) || hub.child.exitCode !== null, 20_000, 'hub listening');
    expect(hub.output()).toMatch(/hub listening/);
    const hubIdentity = processIdentity(hub.child.pid ?? 0);
    expect(hubIdentity.uid).toBe(uid);
    expect(hubIdentity.capEff).toBe(NET_ADMIN_AND_RAW);
    expect(hubIdentity.capBnd).toBe(NET_ADMIN_AND_RAW);

    const invite = runUnprivileged(hubCmd(noCaps(), ['invite', 'create']));
    expect(invite.status, invite.stderr).toBe(0);
    const member = spawnUnprivileged(unprivilegedCommand(topo.c1, withCaps(), tunNode, join(dir, 'home'), 'client',
      ['join', `ws://${topo.addresses.hub}:8443`, '--token', invite.stdout.trim(), '--name', 'ada', '--state', join(dir, 'member'), '--metrics', '127.0.0.1:9471']));
    running.push(member);
    await waitUntil(() => /tnl-hub up/.test(member.output()) || member.child.exitCode !== null, 20_000, 'the member\'s tunnel');
    expect(member.output()).toMatch(/tnl-hub up: gre/);
    expect(processIdentity(member.child.pid ?? 0)).toMatchObject({ uid, capEff: NET_ADMIN_AND_RAW });

    const ping = await execInAsync(topo.c1, 'ping', ['-c', '3', '-i', '0.2', '-W', '2', '10.1.12.1']);
    expect(ping.stdout).toMatch(/3 received/);

    // A second member behind the NAT (FOU), joined once and then kept up by `run` as the unit
    // does, and a ping between the members: the hub forwards between its tunnels, a switch it
    // turns on itself, without root.
    const invite2 = runUnprivileged(hubCmd(noCaps(), ['invite', 'create']));
    const clientCmd = (args: string[]) => unprivilegedCommand(topo.c2, withCaps(), tunNode, join(dir, 'home'), 'client', args);
    const joined2 = spawnUnprivileged(clientCmd(['join', `ws://${topo.addresses.hub}:8443`, '--token', invite2.stdout.trim(), '--name', 'bea', '--state', join(dir, 'member2'), '--once']));
    const joinStatus = await new Promise<number | null>((resolve) => joined2.child.once('exit', (code) => resolve(code)));
    expect(joinStatus, joined2.output()).toBe(0);
    const member2 = spawnUnprivileged(clientCmd(['run', '--state', join(dir, 'member2'), '--metrics', '127.0.0.1:9471']));
    running.push(member2);
    await waitUntil(() => /tnl-hub up/.test(member2.output()) || member2.child.exitCode !== null, 20_000, 'the second member\'s tunnel');
    await waitUntil(async () => (await execInAsync(topo.c1, 'ping', ['-c', '1', '-W', '1', '10.1.12.6'])).code === 0, 20_000, () => `ada pings bea through the hub: ${hub.output().slice(-2000)}`);
    expect(hub.output()).not.toMatch(/ERR_PERMISSION|cannot turn forwarding on/);

    for (const file of ['hub/registry.sqlite', 'hub/hub-signing-key.pem', 'hub/ssh_host_ed25519_key', 'member/identity', 'member/client.json', 'member2/identity']) {
      const stat = statSync(join(dir, file));
      expect({ file, uid: stat.uid, mode: stat.mode & 0o777 }).toEqual({ file, uid, mode: 0o600 });
    }
    const status = runUnprivileged(hubCmd(noCaps(), ['status', '--json']));
    expect(JSON.parse(status.stdout).peers).toContainEqual(expect.objectContaining({ name: 'ada', connected: true }));
    expect(JSON.parse(status.stdout).peers).toContainEqual(expect.objectContaining({ name: 'bea', connected: true, encap: 'fou' }));
  });

  it.skipIf(promtoolMissing !== null)('both /metrics pass promtool, and their counters move with traffic', async () => {
    const hubBefore = await scrape(topo.hub, 9470);
    const memberBefore = await scrape(topo.c1, 9471);
    const runBefore = await scrape(topo.c2, 9471);
    for (const text of [hubBefore, memberBefore, runBefore]) expect(promtoolCheck(text)).toEqual({ status: 0, output: '' });
    const series = {
      hubRx: 'tunnel_peer_receive_packets_total{peer="ada",encap="gre"}',
      hubTxBytes: 'tunnel_peer_transmit_bytes_total{peer="ada",encap="gre"}',
      memberRx: 'tunnel_peer_receive_packets_total{peer="hub",encap="gre"}',
      memberTxBytes: 'tunnel_peer_transmit_bytes_total{peer="hub",encap="gre"}',
    };
    const pings = await Promise.all([topo.c1, topo.c2].map((ns, i) => execInAsync(ns, 'ping', ['-c', '20', '-i', '0.05', '-s', '1000', '-W', '2', `10.1.12.${1 + 4 * i}`])));
    for (const ping of pings) expect(ping.stdout).toMatch(/20 received/);
    const hubAfter = await scrape(topo.hub, 9470);
    const memberAfter = await scrape(topo.c1, 9471);
    const runAfter = await scrape(topo.c2, 9471);
    for (const text of [hubAfter, memberAfter, runAfter]) expect(promtoolCheck(text).status).toBe(0);
    const moved = (before: string, after: string, name: string): number => (metricValue(after, name) ?? NaN) - (metricValue(before, name) ?? NaN);
    expect(moved(hubBefore, hubAfter, series.hubRx)).toBeGreaterThanOrEqual(20);
    expect(moved(hubBefore, hubAfter, series.hubTxBytes)).toBeGreaterThanOrEqual(20 * 1000);
    expect(moved(memberBefore, memberAfter, series.memberRx)).toBeGreaterThanOrEqual(20);
    expect(moved(memberBefore, memberAfter, series.memberTxBytes)).toBeGreaterThanOrEqual(20 * 1000);
    // `tunnel-client run --metrics`, as the unit runs a member: its FOU tunnel through the NAT.
    expect(moved(runBefore, runAfter, 'tunnel_peer_receive_packets_total{peer="hub",encap="fou"}')).toBeGreaterThanOrEqual(20);
    expect(moved(runBefore, runAfter, 'tunnel_peer_transmit_bytes_total{peer="hub",encap="fou"}')).toBeGreaterThanOrEqual(20 * 1000);
    expect(moved(hubBefore, hubAfter, 'tunnel_peer_receive_packets_total{peer="bea",encap="fou"}')).toBeGreaterThanOrEqual(20);
    expect(metricValue(hubAfter, 'tunnel_peers{state="up"}')).toBe(2);
    expect(metricValue(memberAfter, 'tunnel_hub_connected')).toBe(1);
    expect(metricValue(memberAfter, 'tunnel_peer_up{peer="hub",encap="gre"}')).toBe(1);
    expect(metricValue(hubAfter, 'process_open_fds')).toBeGreaterThan(0);
    // The hub filters the member's inner sources (BCP 38): the pings came from its own address.
    expect(metricValue(hubAfter, 'tunnel_peer_spoofed_packets_total{peer="ada",encap="gre"}')).toBe(0);
  });
});
