import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNamespaces, deleteNamespaces, distUrl, runNodeIn, uniquePrefix } from '../helpers/netns.js';
import { netnsUnavailableReason } from '../helpers/root.js';

const skipReason = netnsUnavailableReason();
if (skipReason) console.warn(`SKIPPED native TUN tests: ${skipReason}`);

// Runs inside a fresh namespace: a TUN device with 10.200.0.1/24 receives an ICMP echo request
// from "10.200.0.2" (bytes built here), preceded by a malformed packet the kernel must refuse;
// the kernel's echo reply is read back through the readiness callback.
const echoScript = `
import { existsSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createPacketBatch, openTun } from '${distUrl('native/index.js')}';
import { applyKernelChange } from '${distUrl('shared/system/apply-kernel-change.js')}';

const name = 'tnt0';
const tun = openTun(name);
applyKernelChange({ kind: 'set-mtu', link: name, mtu: 1400 });
applyKernelChange({ kind: 'add-address', link: name, cidr: '10.200.0.1/24' });
applyKernelChange({ kind: 'set-up', link: name, up: true });

function checksum(buf, start, end) {
  let sum = 0;
  for (let i = start; i < end; i += 2) sum += (buf[i] << 8) | (i + 1 < end ? buf[i + 1] : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

const tx = createPacketBatch(2, 2048);
tx.data.fill(0, 0, 40);              // slot 0: 40 zero bytes, not IPv4 or IPv6
tx.offsets[0] = 0; tx.lengths[0] = 40;
const payload = Buffer.from('tunnel-native echo test');
const p = tx.data.subarray(2048, 2048 + 28 + payload.length);
p[0] = 0x45; p.writeUInt16BE(p.length, 2); p.writeUInt16BE(0x1234, 4); p[8] = 64; p[9] = 1;
Buffer.from([10, 200, 0, 2, 10, 200, 0, 1]).copy(p, 12);
p.writeUInt16BE(checksum(p, 0, 20), 10);
p[20] = 8; p.writeUInt16BE(0xbeef, 24); p.writeUInt16BE(7, 26); payload.copy(p, 28);
p.writeUInt16BE(checksum(p, 20, p.length), 22);
tx.offsets[1] = 0; tx.lengths[1] = p.length;
const accepted = tun.writeBatch(tx, 2);
const dropped = tun.dropCounters();

const rx = createPacketBatch(16, 2048);
let callbacks = 0;
const timer = setTimeout(() => finish(null), 15000);
tun.onReadable(() => {
  callbacks++;
  const n = tun.readBatch(rx, 32);
  for (let i = 0; i < n; i++) {
    const at = i * rx.slotSize + rx.offsets[i];
    const r = rx.data.subarray(at, at + rx.lengths[i]);
    if (r[0] >> 4 === 4 && r[9] === 1 && r[20] === 0 && r.readUInt16BE(24) === 0xbeef) {
      finish({
        offset: rx.offsets[i],
        source: [...r.subarray(12, 16)].join('.'),
        destination: [...r.subarray(16, 20)].join('.'),
        sequence: r.readUInt16BE(26),
        payload: r.subarray(28).toString(),
        ipChecksumOk: checksum(r, 0, 20) === 0,
        icmpChecksumOk: checksum(r, 20, r.length) === 0,
      });
      return;
    }
  }
});

function finish(reply) {
  clearTimeout(timer);
  const mtu = Number(readFileSync('/sys/class/net/' + name + '/mtu', 'utf8'));
  const addresses = JSON.parse(execFileSync('ip', ['-j', 'addr', 'show', 'dev', name], { encoding: 'utf8' }))[0].addr_info
    .map((a) => a.local + '/' + a.prefixlen);
  tun.close();
  console.log(JSON.stringify({ accepted, dropped, callbacks: callbacks > 0, reply, mtu, addresses,
    closed: tun.closed, existsAfterClose: existsSync('/sys/class/net/' + name) }));
}
`;

// Point-to-point addressing, IPv6 and routes through the kernel configuration seam, checked against what the kernel reports.
const linkConfigScript = `
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { openTun } from '${distUrl('native/index.js')}';
import { applyKernelChange } from '${distUrl('shared/system/apply-kernel-change.js')}';

const name = 'tnt1';
const tun = openTun(name);
applyKernelChange({ kind: 'add-address', link: name, cidr: '10.201.0.1/30', peer: '10.201.0.2' });
applyKernelChange({ kind: 'add-address', link: name, cidr: '10.201.0.1/30', peer: '10.201.0.2' });   // already present: not an error
applyKernelChange({ kind: 'add-address', link: name, cidr: '2001:db8:1::1/64' });
applyKernelChange({ kind: 'set-up', link: name, up: true });
applyKernelChange({ kind: 'replace-route', route: { prefix: '10.202.0.0/24', link: name, metric: 0 } });
applyKernelChange({ kind: 'replace-route', route: { prefix: '2001:db8:2::/48', link: name, metric: 0 } });
const show = (args) => JSON.parse(execFileSync('ip', ['-j', ...args], { encoding: 'utf8' }));
const addrs = show(['addr', 'show', 'dev', name])[0].addr_info.map((a) => ({ local: a.local, peer: a.address ?? null, prefixlen: a.prefixlen }));
const routes4 = show(['-4', 'route', 'show', 'dev', name]).map((r) => r.dst);
const routes6 = show(['-6', 'route', 'show', 'dev', name]).map((r) => r.dst);
applyKernelChange({ kind: 'set-up', link: name, up: false });
const upAfterDown = show(['link', 'show', 'dev', name])[0].flags.includes('UP');
applyKernelChange({ kind: 'delete-link', link: name });
const existsAfterDelete = existsSync('/sys/class/net/' + name);
tun.close();
console.log(JSON.stringify({ addrs, routes4, routes6, upAfterDown, existsAfterDelete }));
`;

// Multi-queue: a second open of the same name adds a queue; a one-shot writable callback fires once.
const queuesScript = `
import { existsSync } from 'node:fs';
import { openTun } from '${distUrl('native/index.js')}';
import { applyKernelChange } from '${distUrl('shared/system/apply-kernel-change.js')}';
const first = openTun('tntq', { multiQueue: true });
const second = openTun('tntq', { multiQueue: true });
applyKernelChange({ kind: 'set-up', link: 'tntq', up: true }); // the kernel reports a TUN writable only while it is up
let writable = 0;
first.onWritable(() => { writable++; });
setTimeout(() => {
  first.close();
  const existsWithOneQueue = existsSync('/sys/class/net/tntq');
  second.close();
  console.log(JSON.stringify({ names: [first.name, second.name], writable, existsWithOneQueue, existsAfterBoth: existsSync('/sys/class/net/tntq') }));
}, 300);
`;

describe.skipIf(skipReason)('native TUN device (netns)', () => {
  const namespace = `${uniquePrefix()}tun`;

  beforeAll(() => createNamespaces([namespace]));
  afterAll(() => deleteNamespaces([namespace]));

  it('carries an ICMP echo request to the kernel and the echo reply back', async () => {
    const result = (await runNodeIn(namespace, echoScript)) as {
      accepted: number;
      dropped: { writeErrors: number; lastWriteErrno: number; truncatedReads: number };
      callbacks: boolean;
      reply: Record<string, unknown> | null;
      mtu: number;
      addresses: string[];
      closed: boolean;
      existsAfterClose: boolean;
    };
    // Both slots consumed; the malformed one was refused by the kernel (EINVAL) and counted.
    expect(result.accepted).toBe(2);
    expect(result.dropped).toEqual({ truncatedReads: 0, unreadForwarded: 0, writeErrors: 1, lastWriteErrno: 22 });
    expect(result.callbacks).toBe(true);
    expect(result.reply).toEqual({
      offset: 32,
      source: '10.200.0.1',
      destination: '10.200.0.2',
      sequence: 7,
      payload: 'tunnel-native echo test',
      ipChecksumOk: true,
      icmpChecksumOk: true,
    });
    expect(result.mtu).toBe(1400);
    expect(result.addresses).toContain('10.200.0.1/24');
    // Not persistent: closing the descriptor removed the interface.
    expect(result.closed).toBe(true);
    expect(result.existsAfterClose).toBe(false);
  });

  it('configures peer, IPv6 addresses and routes, link down, and deletes the link', async () => {
    const result = (await runNodeIn(namespace, linkConfigScript)) as {
      addrs: { local: string; peer: string | null; prefixlen: number }[];
      routes4: string[];
      routes6: string[];
      upAfterDown: boolean;
      existsAfterDelete: boolean;
    };
    expect(result.addrs).toContainEqual({ local: '10.201.0.1', peer: '10.201.0.2', prefixlen: 30 });
    expect(result.addrs.filter((a) => a.local === '10.201.0.1')).toHaveLength(1);
    expect(result.addrs).toContainEqual({ local: '2001:db8:1::1', peer: null, prefixlen: 64 });
    expect(result.routes4).toEqual(expect.arrayContaining(['10.201.0.0/30', '10.202.0.0/24']));
    expect(result.routes6).toEqual(expect.arrayContaining(['2001:db8:1::/64', '2001:db8:2::/48']));
    expect(result.upAfterDown).toBe(false);
    expect(result.existsAfterDelete).toBe(false);
  });

  it('opens several queues of one multi-queue device and fires a one-shot writable callback once', async () => {
    expect(await runNodeIn(namespace, queuesScript)).toEqual({
      names: ['tntq', 'tntq'],
      writable: 1,
      existsWithOneQueue: true,
      existsAfterBoth: false,
    });
  });
});
