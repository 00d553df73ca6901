/**
 * A raw socket for PROTOCOL on 192.0.2.2 (host B of the pair topology): prints `ready`, then the
 * first packet it gets, outer header included (null when none came in 20 s).
 */
import { createPacketBatch, openRawSocket, type RawProtocol } from '../../native/index.js';
import { slotBytes } from './batch-slots.js';
import { scriptArgs } from './script-args.js';

/** What the receiver reports of the first packet. */
export interface RawPacketSeen {
  count: number;
  offset: number;
  source: number;
  headerSource: string;
  protocol: number;
  ttl: number;
  dontFragment: boolean;
  payloadHex: string;
}

const { protocol } = scriptArgs('protocol');
const socket = openRawSocket(Number(protocol) as RawProtocol, '192.0.2.2');
const batch = createPacketBatch(8, 2048);
const timer = setTimeout(() => {
  socket.close();
  console.log(JSON.stringify(null));
}, 20_000);
socket.onReadable(() => {
  const n = socket.readBatch(batch, 16);
  if (n === 0) return;
  const packet = slotBytes(batch, 0);
  const headerLength = (packet[0]! & 15) * 4;
  clearTimeout(timer);
  socket.close();
  const seen: RawPacketSeen = {
    count: n,
    offset: batch.offsets[0]!,
    source: batch.addrs[0]!,
    headerSource: [...packet.subarray(12, 16)].join('.'),
    protocol: packet[9]!,
    ttl: packet[8]!,
    dontFragment: (packet[6]! & 0x40) !== 0,
    payloadHex: packet.subarray(headerLength).toString('hex'),
  };
  console.log(JSON.stringify(seen));
});
console.log('ready');
