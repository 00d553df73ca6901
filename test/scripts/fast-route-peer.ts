/**
 * Host B of the fast-route test: a raw GRE socket on 192.0.2.2. Prints `ready`; 300 ms later
 * sends each hex PAYLOAD (GRE header + inner packet) to 192.0.2.1; after MS milliseconds reports
 * how many it sent and every GRE packet it received: flags, key, inner protocol and ICMP type.
 */
import { createPacketBatch, openRawSocket } from '../../native/index.js';
import { ipv4ToNumber } from '../../shared/wire/ipv4-address.js';
import { fillSlot, slotBytes } from './batch-slots.js';
import { restArgs, scriptArgs } from './script-args.js';

/** What the peer reports. */
export interface FastRoutePeerReport {
  sent: number;
  received: { flags: number; key: number; innerProtocol: number; icmpType: number }[];
}

const { ms } = scriptArgs('ms');
const payloads = restArgs(1);
const raw = openRawSocket(47, '192.0.2.2');
const batch = createPacketBatch(64, 2048);
const received: FastRoutePeerReport['received'] = [];
raw.onReadable(() => {
  for (let n; (n = raw.readBatch(batch, 0)) > 0;) {
    for (let i = 0; i < n; i++) {
      const p = slotBytes(batch, i);
      const ihl = (p[0]! & 15) * 4;
      const inner = p.subarray(ihl + 8);
      received.push({ flags: p.readUInt16BE(ihl), key: p.readUInt32BE(ihl + 4), innerProtocol: inner[9]!, icmpType: inner[20]! });
    }
  }
});
const out = createPacketBatch(8, 2048);
payloads.forEach((hex, i) => {
  fillSlot(out, i, Buffer.from(hex, 'hex'));
  out.addrs[i] = ipv4ToNumber('192.0.2.1');
});
let sent = 0;
setTimeout(() => {
  sent = raw.writeBatch(out, payloads.length);
}, 300);
setTimeout(() => {
  raw.close();
  const report: FastRoutePeerReport = { sent, received };
  console.log(JSON.stringify(report));
}, Number(ms));
console.log('ready');
