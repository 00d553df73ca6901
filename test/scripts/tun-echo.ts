/**
 * In a fresh namespace: TUN tnt0 (10.200.0.1/24, MTU 1400) receives an ICMP echo request from
 * "10.200.0.2" (bytes built here), preceded by a malformed packet the kernel must refuse; the
 * kernel's echo reply is read back through the readiness callback. Prints what came back and
 * what the kernel reports of the device, before and after close.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createPacketBatch, openTun } from '../../native/index.js';
import { applyKernelChange } from '../../shared/system/apply-kernel-change.js';
import { internetChecksum } from '../../shared/wire/checksum.js';
import { slotBytes } from './batch-slots.js';

/** The echo reply as read back from the TUN. */
export interface TunEchoReply {
  offset: number;
  source: string;
  destination: string;
  sequence: number;
  payload: string;
  ipChecksumOk: boolean;
  icmpChecksumOk: boolean;
}

const name = 'tnt0';
const tun = openTun(name);
await applyKernelChange({ kind: 'set-mtu', link: name, mtu: 1400 });
await applyKernelChange({ kind: 'add-address', link: name, cidr: '10.200.0.1/24' });
await applyKernelChange({ kind: 'set-up', link: name, up: true });

const tx = createPacketBatch(2, 2048);
tx.data.fill(0, 0, 40); // slot 0: 40 zero bytes, not IPv4 or IPv6
tx.offsets[0] = 0;
tx.lengths[0] = 40;
const payload = Buffer.from('tunnel-native echo test');
const p = tx.data.subarray(2048, 2048 + 28 + payload.length);
p[0] = 0x45;
p.writeUInt16BE(p.length, 2);
p.writeUInt16BE(0x1234, 4);
p[8] = 64;
p[9] = 1;
Buffer.from([10, 200, 0, 2, 10, 200, 0, 1]).copy(p, 12);
p.writeUInt16BE(internetChecksum(p, 0, 20), 10);
p[20] = 8;
p.writeUInt16BE(0xbeef, 24);
p.writeUInt16BE(7, 26);
payload.copy(p, 28);
p.writeUInt16BE(internetChecksum(p, 20, p.length - 20), 22);
tx.offsets[1] = 0;
tx.lengths[1] = p.length;
const accepted = tun.writeBatch(tx, 2);
const dropped = tun.dropCounters();

const rx = createPacketBatch(16, 2048);
let callbacks = 0;
const timer = setTimeout(() => finish(null), 15_000);
tun.onReadable(() => {
  callbacks++;
  const n = tun.readBatch(rx, 32);
  for (let i = 0; i < n; i++) {
    const r = slotBytes(rx, i);
    if (r[0]! >> 4 === 4 && r[9] === 1 && r[20] === 0 && r.readUInt16BE(24) === 0xbeef) {
      finish({
        offset: rx.offsets[i]!,
        source: [...r.subarray(12, 16)].join('.'),
        destination: [...r.subarray(16, 20)].join('.'),
        sequence: r.readUInt16BE(26),
        payload: r.subarray(28).toString(),
        ipChecksumOk: internetChecksum(r, 0, 20) === 0,
        icmpChecksumOk: internetChecksum(r, 20, r.length - 20) === 0,
      });
      return;
    }
  }
});

function finish(reply: TunEchoReply | null): void {
  clearTimeout(timer);
  const mtu = Number(readFileSync(`/sys/class/net/${name}/mtu`, 'utf8'));
  const shown = JSON.parse(execFileSync('ip', ['-j', 'addr', 'show', 'dev', name], { encoding: 'utf8' })) as { addr_info: { local: string; prefixlen: number }[] }[];
  const addresses = shown[0]!.addr_info.map((a) => `${a.local}/${a.prefixlen}`);
  tun.close();
  console.log(JSON.stringify({
    accepted, dropped, callbacks: callbacks > 0, reply, mtu, addresses, closed: tun.closed, existsAfterClose: existsSync(`/sys/class/net/${name}`),
  }));
}
