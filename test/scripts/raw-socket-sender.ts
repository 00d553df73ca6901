/** From 192.0.2.1, sends one PAYLOAD (hex, no IP header: the kernel builds it) to 192.0.2.2 over a raw PROTOCOL socket with TTL; prints {accepted}. */
import { createPacketBatch, openRawSocket, type RawProtocol } from '../../native/index.js';
import { ipv4ToNumber } from '../../shared/wire/ipv4-address.js';
import { fillSlot } from './batch-slots.js';
import { scriptArgs } from './script-args.js';

const { protocol, ttl, payload } = scriptArgs('protocol', 'ttl', 'payload');
const socket = openRawSocket(Number(protocol) as RawProtocol, '192.0.2.1', { ttl: Number(ttl) });
const batch = createPacketBatch(1, 2048);
fillSlot(batch, 0, Buffer.from(payload, 'hex'), 8);
batch.addrs[0] = ipv4ToNumber('192.0.2.2');
const accepted = socket.writeBatch(batch, 1);
socket.close();
console.log(JSON.stringify({ accepted }));
