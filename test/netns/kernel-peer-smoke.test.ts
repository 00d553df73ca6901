import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kernelPeerUnavailableReason, startKernelPeer, type KernelPeer } from '../helpers/kernel-peer.js';
import { createNamespaces, deleteNamespaces, execInAsync, uniquePrefix } from '../helpers/netns.js';
import { netnsUnavailableReason } from '../helpers/root.js';

const reason = netnsUnavailableReason() ?? kernelPeerUnavailableReason();
if (reason) console.warn(`skipping kernel-peer-smoke: ${reason}`);

// Two guests booted in parallel on one bridge in a namespace: the exec channel, the host wire,
// the guest responders, and the kernel's IPv6 tunnels (ip6gre, ip6tnl, gretap, FOU over IPv6).
describe.skipIf(reason)('kernel peer (Debian kernel in qemu)', () => {
  const prefix = uniquePrefix();
  const ns = `${prefix}kp`;
  const bridge = `${prefix}br`;
  let a: KernelPeer | undefined;
  let b: KernelPeer | undefined;

  beforeAll(async () => {
    createNamespaces([ns]);
    const ip = (...args: string[]): void => { execFileSync('ip', ['-n', ns, ...args], { stdio: 'pipe' }); };
    ip('link', 'add', bridge, 'type', 'bridge');
    ip('addr', 'add', '192.0.2.1/24', 'dev', bridge);
    ip('addr', 'add', '2001:db8:7::1/64', 'dev', bridge, 'nodad');
    ip('link', 'set', bridge, 'up');
    [a, b] = await Promise.all([startKernelPeer({ namespace: ns, bridge }), startKernelPeer({ namespace: ns, bridge })]);
    console.log(`kernel peers booted in parallel: ${String(a.bootMs)} ms and ${String(b.bootMs)} ms`);
    await a.run('ip addr add 192.0.2.2/24 dev eth0; ip -6 addr add 2001:db8:7::2/64 dev eth0 nodad');
    await b.run('ip addr add 192.0.2.3/24 dev eth0; ip -6 addr add 2001:db8:7::3/64 dev eth0 nodad');
  });

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    deleteNamespaces([ns]);
  });

  it('runs scripts with their exit code and output', async () => {
    const ok = await a!.exec('uname -r; echo two lines');
    expect(ok.code).toBe(0);
    expect(ok.output).toMatch(/^\d+\.\d+\.\d+-\d+-amd64\ntwo lines$/);
    expect(await a!.exec('echo failing >&2; exit 3')).toEqual({ code: 3, output: 'failing' });
    await expect(a!.run('false')).rejects.toThrow(/exit 1/);
  });

  it('reaches the host namespace and serves HTTP on its address', async () => {
    expect(await a!.run('ping -c1 -W2 192.0.2.1 >/dev/null && echo up')).toBe('up');
    const fetched = await execInAsync(ns, 'curl', ['-sS', 'http://192.0.2.2/index.html']);
    expect(fetched.stdout).toBe(`kernel peer ${a!.name} (${(await a!.run('uname -r'))})\n`);
    const body = await b!.run('wget -qO- http://192.0.2.2/1m.bin | wc -c');
    expect(body.trim()).toBe('1048576');
  });

  it('carries the kernel IPv6 tunnels: ip6gre, ip6tnl, gretap and FOU over IPv6', async () => {
    const tunnels = (self: string, other: string): string => [
      `ip link add g6 type ip6gre local 2001:db8:7::${self} remote 2001:db8:7::${other}`,
      `ip addr add 10.61.1.${self}/24 dev g6`,
      `ip link add t6 type ip6tnl mode ipip6 local 2001:db8:7::${self} remote 2001:db8:7::${other}`,
      `ip addr add 10.61.2.${self}/24 dev t6`,
      `ip link add gt type gretap local 192.0.2.${self} remote 192.0.2.${other}`,
      'ip link add br0 type bridge', 'ip link set gt master br0', `ip addr add 10.61.3.${self}/24 dev br0`,
      'ip fou add port 5555 ipproto 47 -6',
      `ip link add f6 type ip6gre local 2001:db8:7::${self} remote 2001:db8:7::${other} key 6 encap fou encap-sport 5555 encap-dport 5555`,
      `ip addr add 10.61.4.${self}/24 dev f6`,
      'for d in g6 t6 gt br0 f6; do ip link set $d up; done',
    ].join('\n');
    await a!.run(tunnels('2', '3'));
    await b!.run(tunnels('3', '2'));
    for (const net of [1, 2, 3, 4]) {
      expect(await a!.run(`ping -c2 -W3 10.61.${String(net)}.3 | grep -c 'bytes from'`)).toBe('2');
    }
  });
});
