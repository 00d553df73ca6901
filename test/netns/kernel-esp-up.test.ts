import { execFileSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeEspFile, xfrmLinesFor, type EspLink } from '../helpers/esp-file.js';
import { kernelPeerUnavailableReason, startKernelPeer, type KernelPeer } from '../helpers/kernel-peer.js';
import { createNamespaces, deleteNamespaces, execInAsync, runNodeIn, uniquePrefix } from '../helpers/netns.js';
import { netnsUnavailableReason } from '../helpers/root.js';
import { testScript } from '../helpers/test-scripts.js';
import { startUp, statusIn, type RunningUp } from '../helpers/tunnel-client-process.js';
import { waitUntil } from '../helpers/wait-until.js';

const reason = netnsUnavailableReason() ?? kernelPeerUnavailableReason();
if (reason) console.warn(`skipping kernel-esp-up: ${reason}`);

const HOST = '192.0.2.1';
const GUEST = '192.0.2.2';

interface Case {
  label: string;
  aead: EspLink['aead'];
  xfrmName: string;
  keyBytes: number;
  udpPort: number | null;
  net: number;
}

const CASES: Case[] = [
  { label: 'GRE in ESP, AES-GCM-128', aead: 'aes-gcm', xfrmName: 'rfc4106(gcm(aes))', keyBytes: 20, udpPort: null, net: 1 },
  { label: 'GRE in ESP, ChaCha20-Poly1305', aead: 'chacha20-poly1305', xfrmName: 'rfc7539esp(chacha20,poly1305)', keyBytes: 36, udpPort: null, net: 2 },
  { label: 'GRE in ESP in UDP 4500, AES-GCM-256', aead: 'aes-gcm', xfrmName: 'rfc4106(gcm(aes))', keyBytes: 36, udpPort: 4500, net: 3 },
  { label: 'GRE in ESP in UDP 4500, ChaCha20-Poly1305', aead: 'chacha20-poly1305', xfrmName: 'rfc7539esp(chacha20,poly1305)', keyBytes: 36, udpPort: 4500, net: 4 },
];

/** The guest's xfrm input errors: no state for an SPI, an ICV or protocol failure, cleartext where a policy wants ESP. */
async function xfrmInputErrors(guest: KernelPeer): Promise<Record<string, number>> {
  const stat = await guest.run('grep -E "XfrmInStateProtoError|XfrmInNoStates|XfrmInTmplMismatch|XfrmInStateSeqError" /proc/net/xfrm_stat');
  return Object.fromEntries(stat.trim().split('\n').map((line) => {
    const [name, value] = line.trim().split(/\s+/);
    return [name!, Number(value)];
  }));
}

// `tunnel-client up --esp` against Debian's kernel in qemu: the guest's own ip_gre tunnel under an
// `ip xfrm` transport policy for protocol 47, as a router would be configured by hand. The guest
// takes our packets only if its xfrm opened them and we take its only if we opened them (its
// policy drops cleartext GRE, and so do we), so pings and a TCP transfer prove both directions.
describe.skipIf(reason)('tunnel-client up --esp against Linux xfrm (Debian kernel in qemu)', () => {
  const prefix = uniquePrefix();
  const ns = `${prefix}ke`;
  const bridge = `${prefix}br`;
  let guest: KernelPeer | undefined;
  let state: string;

  beforeAll(async () => {
    createNamespaces([ns]);
    const ip = (...args: string[]): void => { execFileSync('ip', ['-n', ns, ...args], { stdio: 'pipe' }); };
    ip('link', 'add', bridge, 'type', 'bridge');
    ip('addr', 'add', `${HOST}/24`, 'dev', bridge);
    ip('link', 'set', bridge, 'up');
    guest = await startKernelPeer({ namespace: ns, bridge });
    console.log(`kernel peer booted in ${String(guest.bootMs)} ms`);
    await guest.run([`ip addr add ${GUEST}/24 dev eth0`, 'load-modules esp', 'esp-in-udp-socket 4500'].join('\n'));
    state = mkdtempSync(join(tmpdir(), 'tc-kernel-esp-'));
  });

  afterAll(async () => {
    await guest?.stop();
    deleteNamespaces([ns]);
    if (state) rmSync(state, { recursive: true, force: true });
  });

  describe.each(CASES)('$label', (c) => {
    const name = `kesp${c.net}`;
    const ours = `10.63.${c.net}.1`;
    const theirs = `10.63.${c.net}.2`;
    const link: EspLink = {
      aead: c.aead, xfrmName: c.xfrmName, udpPort: c.udpPort,
      out: { spi: randomInt(0x1000, 0x7fff_ffff), key: randomBytes(c.keyBytes).toString('hex') },
      in: { spi: randomInt(0x1000, 0x7fff_ffff), key: randomBytes(c.keyBytes).toString('hex') },
    };
    let up: RunningUp | undefined;
    let statBefore: Record<string, number> = {};

    beforeAll(async () => {
      const file = join(state, `${name}.esp`);
      writeEspFile(file, link);
      await guest!.run([
        'ip xfrm state flush', 'ip xfrm policy flush',
        ...xfrmLinesFor(link, GUEST, HOST),
        `ip tunnel add k0 mode gre local ${GUEST} remote ${HOST} ttl 64`,
        'sysctl -qw net.ipv6.conf.k0.disable_ipv6=1',
        `ip addr add ${theirs}/30 dev k0`, 'ip link set k0 up',
      ].join('\n'));
      statBefore = await xfrmInputErrors(guest!);
      up = await startUp(ns, ['--local', HOST, '--remote', GUEST, '--encap', 'gre', '--esp', file, '--address', `${ours}/30`,
        '--peer-address', theirs, '--name', name, '--keepalive', '1', '--state', state]);
    });

    afterAll(async () => {
      // Our end first: its last keepalives must not meet a guest without states.
      const code = await up?.stop();
      await guest?.exec('ip link del k0; ip xfrm state flush; ip xfrm policy flush; true');
      expect(code).toBe(0);
    });

    it('pings both ways', async () => {
      const out = await execInAsync(ns, 'ping', ['-c', '3', '-i', '0.3', '-W', '3', theirs]);
      expect(out.stdout).toMatch(/3 received/);
      expect(await guest!.run(`ping -c3 -W3 ${ours} | grep -c 'bytes from'`)).toBe('3');
      const [status] = statusIn(ns, state).tunnels.filter((tunnel) => tunnel.name === name);
      expect(status).toMatchObject({ encrypted: true, aead: c.aead, spiIn: [link.in.spi], spiOut: link.out.spi, localPort: c.udpPort, mtu: c.udpPort === null ? 1442 : 1434 });
      expect(status!.rx.errors).toBe(0);
      expect(JSON.stringify(status)).not.toContain(link.out.key.slice(0, 16));
      // The guest's xfrm opened what we sent and sealed what it sent, under the SPIs we gave.
      const states = await guest!.run('ip -s xfrm state');
      expect(states).toContain(`spi 0x${link.out.spi.toString(16).padStart(8, '0')}`);
      expect(await xfrmInputErrors(guest!)).toEqual(statBefore);
    });

    it('carries a TCP transfer intact (1 MiB from the guest\'s httpd), on the fast path', async () => {
      const expected = (await guest!.run('sha256sum /srv/1m.bin')).split(/\s+/)[0];
      const fetched = await execInAsync(ns, 'sh', ['-c', `curl -sS --max-time 90 http://${theirs}/1m.bin | sha256sum`], 120_000);
      expect(fetched.stdout.split(/\s+/)[0]).toBe(expected);
      await waitUntil(() => (statusIn(ns, state).tunnels.find((tunnel) => tunnel.name === name)?.rx.packets ?? 0) > 500, 5_000, 'the transfer counted');
      const [status] = statusIn(ns, state).tunnels.filter((tunnel) => tunnel.name === name);
      expect(status!.fastPath.rxPackets).toBeGreaterThan(500);
      expect(status!.dropsByReason['rx:auth'] ?? 0).toBe(0);
    });

    // Only ESP in UDP shares its port with anything else.
    if (c.udpPort !== null) it('the guest\'s espinudp port ignores our hellos behind the non-ESP marker and NAT keepalives, and ESP goes on', async () => {
      // From another port of ours (`up` holds 4500).
      await runNodeIn(ns, testScript('non-esp-sender'), [HOST, GUEST, String(c.udpPort)]);
      expect(await xfrmInputErrors(guest!)).toEqual(statBefore);
      expect((await execInAsync(ns, 'ping', ['-c', '2', '-i', '0.3', '-W', '3', theirs])).stdout).toMatch(/2 received/);
    });
  });
});
