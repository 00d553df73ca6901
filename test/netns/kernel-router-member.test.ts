import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliIn, startCli, startServe, type CliProcess } from '../helpers/control-processes.js';
import { waitUntil } from '../helpers/wait-until.js';
import { kernelPeerUnavailableReason, startKernelPeer, type KernelPeer } from '../helpers/kernel-peer.js';
import { addVethLink, createNamespaces, deleteNamespaces, execInAsync, uniquePrefix } from '../helpers/netns.js';
import { netnsUnavailableReason } from '../helpers/root.js';

const reason = netnsUnavailableReason() ?? kernelPeerUnavailableReason();
if (reason) console.warn(`skipping kernel-router-member: ${reason}`);

const HUB = '198.51.100.1';
/** The guest's two WAN addresses: it starts on the first and moves between them. */
const GUEST_ADDRESSES = ['198.51.100.10', '198.51.100.20'] as const;
const MEMBER = '203.0.113.10';

interface Case {
  label: string;
  peer: string;
  /** `peer add` options and `peer pin` encapsulation. */
  keyless?: boolean;
  pin?: 'ipip' | 'fou' | 'gue';
  /** What the rendered `config linux` must build. */
  expect: RegExp;
}

const CASES: Case[] = [
  { label: 'gre with key (the default hub link)', peer: 'kgre', expect: /type gre local any remote 198\.51\.100\.1 ttl 64 key \d+$/m },
  { label: 'keyless gre (peer add --no-key)', peer: 'kgrenokey', keyless: true, expect: /type gre local any remote 198\.51\.100\.1 ttl 64$/m },
  { label: 'ipip', peer: 'kipip', pin: 'ipip', expect: /type ipip local any remote 198\.51\.100\.1 ttl 64$/m },
  { label: 'fou', peer: 'kfou', pin: 'fou', expect: /^ip fou add port 4754 ipproto 47\n.*type gre .* encap fou encap-sport 4754 encap-dport 4754$/m },
  { label: 'gue', peer: 'kgue', pin: 'gue', expect: /^ip fou add port 6080 gue\n.*type ipip .* encap gue encap-sport 6080 encap-dport 6080$/m },
];

// One guest (Debian's kernel in qemu) plays a router for every case in turn: it applies
// `tunnel-hub peer config NAME linux` verbatim, reports its address with busybox wget as
// ddns-scripts do, and must carry pings and TCP through the hub's userspace end before and after
// it moves to another WAN address.
describe.skipIf(reason)('a kernel router member: config linux, dyndns2 with busybox wget, roaming', () => {
  const prefix = uniquePrefix();
  const hubNs = `${prefix}hub`;
  const memberNs = `${prefix}c1`;
  const bridge = `${prefix}br`;
  let dir: string;
  let hubState: string;
  let hub: CliProcess | undefined;
  let member: CliProcess | undefined;
  let guest: KernelPeer | undefined;
  let guestAddress: string = GUEST_ADDRESSES[0];
  const started = Date.now();

  const hubCli = (...args: string[]): Promise<string> => runCliIn(hubNs, 'server', ['--state', hubState, ...args]);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tc-kernel-router-'));
    hubState = join(dir, 'hub');
    createNamespaces([hubNs, memberNs]);
    const ip = (...args: string[]): void => { execFileSync('ip', ['-n', hubNs, ...args], { stdio: 'pipe' }); };
    ip('link', 'add', bridge, 'type', 'bridge');
    ip('addr', 'add', `${HUB}/24`, 'dev', bridge);
    ip('link', 'set', bridge, 'up');
    addVethLink(
      { namespace: hubNs, interfaceName: `${prefix}hc`, cidr: '203.0.113.254/24' },
      { namespace: memberNs, interfaceName: `${prefix}ch`, cidr: `${MEMBER}/24` },
    );
    execFileSync('ip', ['-n', memberNs, 'route', 'add', 'default', 'via', '203.0.113.254'], { stdio: 'pipe' });
    execFileSync('ip', ['netns', 'exec', hubNs, 'sysctl', '-qw', 'net.ipv4.ip_forward=1'], { stdio: 'pipe' });
    const [booted] = await Promise.all([
      startKernelPeer({ namespace: hubNs, bridge }),
      (async () => {
        await hubCli('init', '--endpoint', HUB, '--pool', '10.1.12.0/24');
        hub = await startServe(hubNs, hubState, ['--listen', HUB]);
      })(),
    ]);
    guest = booted;
    console.log(`kernel guest ready in ${String(guest.bootMs)} ms`);
    await guest.run(`ip addr add ${guestAddress}/24 dev eth0\nip route add default via ${HUB}`);
  });

  afterAll(async () => {
    await guest?.stop();
    await member?.stop('SIGKILL');
    await hub?.stop();
    deleteNamespaces([hubNs, memberNs]);
    if (dir) rmSync(dir, { recursive: true, force: true });
    console.log(`kernel tier ran ${String(Math.round((Date.now() - started) / 1000))} s`);
  });

  /** What busybox wget got back from /nic/update (ddns-scripts put the credentials in the URL). */
  const report = (peer: string, key: string): Promise<string> =>
    guest!.run(`wget -qO- 'http://${peer}:${key}@${HUB}:8443/nic/update?hostname=${peer}'`);

  const hubPings = async (target: string): Promise<boolean> =>
    (await execInAsync(hubNs, 'ping', ['-c', '1', '-W', '1', target], 5_000)).code === 0;

  /** Moves the guest's WAN address (as a new DHCP lease would) and returns the new one. */
  const move = async (): Promise<string> => {
    const next = guestAddress === GUEST_ADDRESSES[0] ? GUEST_ADDRESSES[1] : GUEST_ADDRESSES[0];
    await guest!.run(`ip addr del ${guestAddress}/24 dev eth0\nip addr add ${next}/24 dev eth0\nip route replace default via ${HUB}`);
    guestAddress = next;
    return next;
  };

  describe.each(CASES)('$label', (c) => {
    it('applies config linux, reports with wget, carries pings and TCP, moves and resumes', async () => {
      await hubCli('peer', 'add', c.peer, ...(c.keyless ? ['--no-key'] : []));
      if (c.pin) await hubCli('peer', 'pin', c.peer, '--encap', c.pin);
      const key = (await hubCli('peer', 'update-key', c.peer)).trim();
      const table = JSON.parse(await hubCli('peer', 'table', c.peer, '--json')) as { ends: { inner: string }[] };
      const [hubInner, guestInner] = [table.ends[0]!.inner, table.ends[1]!.inner];

      const config = await hubCli('peer', 'config', c.peer, 'linux');
      expect(config).toMatch(c.expect);
      await guest!.run(config);

      expect(await report(c.peer, key)).toBe(`good ${guestAddress}`);
      await waitUntil(() => hubPings(guestInner), 10_000, `${c.label}: hub -> guest ping`);
      expect(await guest!.run(`ping -c 2 -W 2 ${hubInner} | grep -c 'bytes from'`)).toBe('2');
      const transfer = await execInAsync(hubNs, 'curl', ['-sS', '--max-time', '30', '-o', '/dev/null', '-w', '%{size_download}', `http://${guestInner}/1m.bin`], 40_000);
      expect(transfer.stdout, transfer.stderr).toBe('1048576');

      const moved = await move();
      expect(await hubPings(guestInner)).toBe(false);
      expect(await report(c.peer, key)).toBe(`good ${moved}`);
      await waitUntil(() => hubPings(guestInner), 10_000, `${c.label}: ping after the move`);
      expect(await guest!.run(`ping -c 2 -W 2 ${hubInner} | grep -c 'bytes from'`)).toBe('2');
      expect(await report(c.peer, key)).toBe(`nochg ${moved}`);

      // Leave the guest clean for the next case: its tunnels all use the hub link's name.
      await guest!.run('ip link del tnl-hub; for p in 4754 6080; do ip fou del port $p 2>/dev/null; done; true');
    });
  });

  it('carries pings over a peer<->peer link between the kernel guest and a tunnel-client member', async () => {
    const invite = (await hubCli('invite', 'create')).trim();
    member = startCli(memberNs, 'client', ['join', `ws://${HUB}:8443`, '--token', invite, '--name', 'c1', '--state', join(dir, 'c1')]);
    await waitUntil(() => /tnl-hub up/.test(member?.output() ?? ''), 20_000, () => `c1 join: ${member?.output() ?? ''}`);
    await hubCli('link', 'add', 'kgre', 'c1');
    const tables = JSON.parse(await hubCli('link', 'list', '--json')) as { ends: string[]; inner: string[] }[];
    const link = tables.find((t) => t.ends.includes('kgre') && t.ends.includes('c1'));
    expect(link).toBeDefined();
    const guestInner = link!.inner[link!.ends.indexOf('kgre')]!;
    const memberInner = link!.inner[link!.ends.indexOf('c1')]!;
    // kgre's hub knows where the guest is (it reported); render now that c1 is seen too, and apply
    // the block of the c1 link verbatim.
    const key = (await hubCli('peer', 'update-key', 'kgre')).trim();
    expect(await report('kgre', key)).toMatch(/^(good|nochg) /);
    const config = await hubCli('peer', 'config', 'kgre', 'linux');
    const block = config.split('\n\n').find((part) => / to c1 /.test(part));
    expect(block).toMatch(/^ip link add tnl-c1 type gre local 198\.51\.100\.\d+ remote 203\.0\.113\.10 ttl 64 key \d+$/m);
    await guest!.run(block!);
    await waitUntil(async () => (await guest!.exec(`ping -c 1 -W 1 ${memberInner}`)).code === 0, 20_000, 'guest -> c1 over the peer link');
    expect((await execInAsync(memberNs, 'ping', ['-c', '2', '-W', '2', guestInner], 10_000)).stdout).toMatch(/2 received/);
  });

  it('runs the OpenWrt update hook from `config openwrt`: a WAN ifupdate reports the new address with wget', async () => {
    const key = (await hubCli('peer', 'update-key', 'kipip')).trim();
    const config = await hubCli('peer', 'config', 'kipip', 'openwrt');
    const hook = config.slice(config.indexOf('# dyndns2 update hook'));
    expect(hook).toContain(`URL="http://kipip:$KEY@${HUB}:8443/nic/update?hostname=kipip"`);
    // OpenWrt's busybox: syslogd for `logger`, the key file the hook reads, then the pasted hook.
    await guest!.run(`mkdir -p /etc/hotplug.d/iface\nprintf '%s\\n' '${key}' >/etc/tunnel-hub.key\nchmod 600 /etc/tunnel-hub.key\nsyslogd -O /tmp/messages`);
    await guest!.run(hook);
    const moved = await move();
    await guest!.run('ACTION=ifup INTERFACE=lan sh /etc/hotplug.d/iface/95-tunnel-hub');
    const publicOf = async (): Promise<string | null> =>
      (JSON.parse(await hubCli('peer', 'table', 'kipip', '--json')) as { ends: { public: string | null }[] }).ends[1]!.public;
    expect(await publicOf()).not.toBe(moved);
    await guest!.run('ACTION=ifupdate INTERFACE=wan sh /etc/hotplug.d/iface/95-tunnel-hub');
    expect(await publicOf()).toBe(moved);
    expect(await guest!.run('cat /tmp/messages')).toMatch(new RegExp(`tunnel-hub: good ${moved.replace(/\./g, '\\.')}`));
  });
});
