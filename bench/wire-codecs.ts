/**
 * Per-packet cost of the wire codecs on the datapath's hot path, on 1400-byte packets.
 * Prints one line per operation: nanoseconds per call and millions of calls per second.
 * Each operation runs for a bounded time (about 0.5 s after a warm-up).
 */
import {
  clampTcpMss,
  decodeFou,
  decodeGre,
  decodeGue,
  decodeIpv4,
  encodeGreHeader,
  encodeGueHeader,
  encodeIpv4Header,
  GRE_PROTO_IPV4,
  internetChecksum,
  IPPROTO_GRE,
} from '../shared/wire/index.js';

const PACKET_BYTES = 1400;
const RUN_MS = 500;

function measure(name: string, op: () => unknown): void {
  let sink = 0;
  for (let i = 0; i < 200_000; i++) sink ^= op() ? 1 : 0;
  let calls = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(RUN_MS) * 1_000_000n;
  let now = start;
  while (now < deadline) {
    for (let i = 0; i < 10_000; i++) sink ^= op() ? 1 : 0;
    calls += 10_000;
    now = process.hrtime.bigint();
  }
  const ns = Number(now - start) / calls;
  console.log(`${name.padEnd(44)} ${ns.toFixed(1).padStart(8)} ns/op ${(1000 / ns).toFixed(2).padStart(8)} M ops/s${sink === 2 ? '' : ''}`);
}

function outerGrePacket(key: number | undefined, checksum: boolean): Buffer {
  const packet = Buffer.alloc(PACKET_BYTES, 0x5a);
  const greLength = 4 + (key !== undefined ? 4 : 0) + (checksum ? 4 : 0);
  encodeIpv4Header(packet, 20 + greLength, { totalLength: PACKET_BYTES - 20 - greLength, ttl: 64, protocol: 6, src: 0x0a000001, dst: 0x0a000002 });
  encodeGreHeader(packet, 20, { protocolType: GRE_PROTO_IPV4, key, checksum }, PACKET_BYTES - 20 - greLength);
  encodeIpv4Header(packet, 0, { totalLength: PACKET_BYTES, ttl: 64, protocol: IPPROTO_GRE, src: 0xc0000201, dst: 0xc0000202 });
  return packet;
}

function receiveGre(packet: Buffer): boolean {
  const ip = decodeIpv4(packet, 0, packet.length);
  if (!ip.ok) return false;
  const gre = decodeGre(packet, ip.payloadOffset, ip.payloadLength);
  return gre.ok;
}

function main(): void {
  const plain = outerGrePacket(undefined, false);
  const keyed = outerGrePacket(7, false);
  const summed = outerGrePacket(7, true);
  const gue = Buffer.alloc(PACKET_BYTES - 28, 0x5a);
  encodeGueHeader(gue, 0, { protocol: IPPROTO_GRE });
  encodeGreHeader(gue, 4, { protocolType: GRE_PROTO_IPV4 }, gue.length - 8);
  const syn = Buffer.from(
    '4500003c00004000400626ba0a0000010a000002' + '9c4014510102030400000000a002faf0a2330000' + '020405b40402080a0001e2400000000001030307',
    'hex',
  );
  const target = Buffer.alloc(PACKET_BYTES);

  console.log(`wire codecs, ${PACKET_BYTES}-byte packets, node ${process.version}`);
  measure('decodeIpv4 (header checksum verified)', () => decodeIpv4(plain, 0, plain.length).ok);
  measure('decodeGre plain', () => decodeGre(plain, 20, PACKET_BYTES - 20).ok);
  measure('decodeGre keyed', () => decodeGre(keyed, 20, PACKET_BYTES - 20).ok);
  measure('decodeGre keyed + checksum (1380 bytes summed)', () => decodeGre(summed, 20, PACKET_BYTES - 20).ok);
  measure('receive path: decodeIpv4 + decodeGre keyed', () => receiveGre(keyed));
  measure('decodeFou(47) keyed', () => decodeFou(keyed, 20, PACKET_BYTES - 20, 47).ok);
  measure('decodeGue (GRE inside)', () => decodeGue(gue, 0, gue.length).ok);
  measure('encodeGreHeader keyed', () => encodeGreHeader(target, 0, { protocolType: GRE_PROTO_IPV4, key: 7 }, 1372));
  measure('encodeIpv4Header', () => encodeIpv4Header(target, 0, { totalLength: PACKET_BYTES, ttl: 64, protocol: 47, src: 1, dst: 2 }));
  measure('internetChecksum over 1400 bytes', () => internetChecksum(plain, 0, PACKET_BYTES));
  measure('clampTcpMss on a SYN (already clamped)', () => clampTcpMss(syn, 0, syn.length, 1460));
}

main();
