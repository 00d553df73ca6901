import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kernelPeerUnavailableReason, startKernelPeer, type KernelPeer } from '../helpers/kernel-peer.js';
import { createNamespaces, deleteNamespaces, execInAsync, uniquePrefix } from '../helpers/netns.js';
import { netnsUnavailableReason } from '../helpers/root.js';
import { startUp, statusIn, type RunningUp } from '../helpers/tunnel-client-process.js';
import { waitUntil } from '../helpers/wait-until.js';

const reason = netnsUnavailableReason() ?? kernelPeerUnavailableReason();
if (reason) console.warn(`skipping kernel-ipv6-gretap-interop: ${reason}`);

/** Our end (the namespace's bridge) and the guest's, on one wire, both families. */
const HOST = { v4: '192.0.2.1', v6: '2001:db8:7::1' };
const GUEST = { v4: '192.0.2.2', v6: '2001:db8:7::2' };

interface Case {
  label: string;
  /** Our `tunnel-client up` arguments beyond addresses and name. */
  up: string[];
  local: string;
  remote: string;
  /** The guest's iproute2 commands for its end, device `k0`. */
  guest: string[];
  net: number;
  /** Also ping inner IPv6 across (ip6tnl `mode any` carries both). */
  inner6?: boolean;
}

// The guest's ends are what `tunnel-hub peer config NAME linux` renders for an IPv6 path
// (shared/kernel-config/render-iproute2.ts), except where a case says otherwise.
const CASES: Case[] = [
  {
    label: 'ip6gre with a key', up: ['--encap', 'gre', '--key', '7'], local: HOST.v6, remote: GUEST.v6, net: 1,
    guest: [`ip link add k0 type ip6gre local ${GUEST.v6} remote ${HOST.v6} ttl 64 key 7 encaplimit none`],
  },
  {
    // The kernel's default encapsulation limit option stays on here: our raw IPv6 socket gets the
    // payload after the kernel has read the extension header.
    label: 'ip6tnl (mode any, IPv4 and IPv6 inside, the kernel\'s default encapsulation limit)', up: ['--encap', 'ipip'], local: HOST.v6, remote: GUEST.v6,
    net: 2, inner6: true, guest: [`ip link add k0 type ip6tnl mode any local ${GUEST.v6} remote ${HOST.v6} ttl 64`],
  },
  {
    label: 'gretap (Ethernet over GRE, key 9)', up: ['--encap', 'gretap', '--key', '9'], local: HOST.v4, remote: GUEST.v4, net: 3,
    guest: [`ip link add k0 type gretap local ${GUEST.v4} remote ${HOST.v4} ttl 64 key 9`],
  },
  {
    label: 'fou over IPv6 (ip6gre encap fou)', up: ['--encap', 'fou'], local: HOST.v6, remote: GUEST.v6, net: 4,
    guest: ['ip fou add port 4754 ipproto 47 -6',
      `ip link add k0 type ip6gre local ${GUEST.v6} remote ${HOST.v6} ttl 64 encaplimit none encap fou encap-sport 4754 encap-dport 4754`],
  },
];

describe.skipIf(reason)('the userspace datapath against Debian\'s kernel in qemu: IPv6 tunnels and gretap', () => {
  const prefix = uniquePrefix();
  const ns = `${prefix}ki`;
  const bridge = `${prefix}br`;
  let guest: KernelPeer | undefined;
  let state: string;

  beforeAll(async () => {
    createNamespaces([ns]);
    const ip = (...args: string[]): void => { execFileSync('ip', ['-n', ns, ...args], { stdio: 'pipe' }); };
    ip('link', 'add', bridge, 'type', 'bridge');
    ip('addr', 'add', `${HOST.v4}/24`, 'dev', bridge);
    ip('addr', 'add', `${HOST.v6}/64`, 'dev', bridge, 'nodad');
    ip('link', 'set', bridge, 'up');
    guest = await startKernelPeer({ namespace: ns, bridge });
    console.log(`kernel peer booted in ${String(guest.bootMs)} ms`);
    await guest.run(`ip addr add ${GUEST.v4}/24 dev eth0; ip -6 addr add ${GUEST.v6}/64 dev eth0 nodad`);
    state = mkdtempSync(join(tmpdir(), 'tc-kernel-interop-'));
  });

  afterAll(async () => {
    await guest?.stop();
    deleteNamespaces([ns]);
    if (state) rmSync(state, { recursive: true, force: true });
  });

  describe.each(CASES)('$label', (c) => {
    const name = `kin${c.net}`;
    const ours = `10.62.${c.net}.1`;
    const theirs = `10.62.${c.net}.2`;
    let up: RunningUp | undefined;

    beforeAll(async () => {
      up = await startUp(ns, ['--local', c.local, '--remote', c.remote, ...c.up, '--address', `${ours}/30`, '--peer-address', theirs,
        '--name', name, '--keepalive', '1', '--state', state]);
      await guest!.run([...c.guest, `ip addr add ${theirs}/30 dev k0`, 'ip link set k0 up',
        ...(c.inner6 === true ? [`ip -6 addr add fd00:62:${String(c.net)}::2/64 dev k0 nodad`] : [])].join('\n'));
      if (c.inner6 === true) execFileSync('ip', ['-n', ns, '-6', 'addr', 'add', `fd00:62:${String(c.net)}::1/64`, 'dev', name, 'nodad'], { stdio: 'pipe' });
    });

    afterAll(async () => {
      await guest?.exec('ip link del k0; ip fou del port 4754 -6 2>/dev/null; true');
      expect(await up?.stop()).toBe(0);
    });

    it('pings both ways', async () => {
      const out = await execInAsync(ns, 'ping', ['-c', '3', '-i', '0.3', '-W', '3', theirs]);
      expect(out.stdout).toMatch(/3 received/);
      expect(await guest!.run(`ping -c3 -W3 ${ours} | grep -c 'bytes from'`)).toBe('3');
      if (c.inner6 === true) {
        expect((await execInAsync(ns, 'ping', ['-6', '-c', '2', '-W', '3', `fd00:62:${String(c.net)}::2`])).stdout).toMatch(/2 received/);
        expect(await guest!.run(`ping -c2 -W3 fd00:62:${String(c.net)}::1 | grep -c 'bytes from'`)).toBe('2');
      }
      const [status] = statusIn(ns, state).tunnels.filter((tunnel) => tunnel.name === name);
      expect(status).toMatchObject({ outerFamily: c.local.includes(':') ? 'ipv6' : 'ipv4' });
      expect(status!.rx.errors).toBe(0);
    });

    it('carries a TCP transfer intact (1 MiB from the guest\'s httpd)', async () => {
      const expected = (await guest!.run('sha256sum /srv/1m.bin')).split(/\s+/)[0];
      const fetched = await execInAsync(ns, 'sh', ['-c', `curl -sS --max-time 60 http://${theirs}/1m.bin | sha256sum`], 90_000);
      expect(fetched.stdout.split(/\s+/)[0]).toBe(expected);
      await waitUntil(() => (statusIn(ns, state).tunnels.find((tunnel) => tunnel.name === name)?.rx.packets ?? 0) > 500, 5_000, 'the transfer counted');
    });
  });
});
