import { encodeIpv4Header } from '../../shared/wire/ipv4.js';
import { ipv4ToNumber } from '../../shared/wire/ipv4-address.js';

/** An IPv4 packet with a patterned payload, for datapath tests. */
export function ipv4Packet(options: {
  src: string; dst: string; protocol?: number; ttl?: number; df?: boolean; length?: number; payload?: Buffer;
}): Buffer {
  const payload = options.payload ?? patterned((options.length ?? 84) - 20);
  const packet = Buffer.alloc(20 + payload.length);
  encodeIpv4Header(packet, 0, {
    totalLength: packet.length,
    ttl: options.ttl ?? 64,
    protocol: options.protocol ?? 1,
    dontFragment: options.df ?? false,
    src: ipv4ToNumber(options.src),
    dst: ipv4ToNumber(options.dst),
  });
  payload.copy(packet, 20);
  return packet;
}

/** An IPv6 packet (next header 58) of `length` bytes between two fd00::/8 addresses. */
export function ipv6Packet(length = 104, nextHeader = 58): Buffer {
  const packet = Buffer.alloc(length);
  packet[0] = 0x60;
  packet.writeUInt16BE(length - 40, 4);
  packet[6] = nextHeader;
  packet[7] = 64;
  Buffer.from('fd000000000000000000000000000001', 'hex').copy(packet, 8);
  Buffer.from('fd000000000000000000000000000002', 'hex').copy(packet, 24);
  patterned(length - 40).copy(packet, 40);
  return packet;
}

/** What a raw socket reads: an outer IPv4 header (src → dst, protocol) in front of `payload`. */
export function outerPacket(src: string, dst: string, protocol: number, payload: Buffer): Buffer {
  return ipv4Packet({ src, dst, protocol, payload });
}

/** A TCP SYN carrying an MSS option, inside IPv4. */
export function tcpSynPacket(src: string, dst: string, mss: number): Buffer {
  const tcp = Buffer.alloc(24);
  tcp.writeUInt16BE(40000, 0);
  tcp.writeUInt16BE(80, 2);
  tcp[12] = 6 << 4;
  tcp[13] = 0x02;
  tcp.writeUInt16BE(65535, 14);
  tcp[20] = 2;
  tcp[21] = 4;
  tcp.writeUInt16BE(mss, 22);
  return ipv4Packet({ src, dst, protocol: 6, payload: tcp, df: true });
}

function patterned(length: number): Buffer {
  const b = Buffer.alloc(Math.max(0, length));
  for (let i = 0; i < b.length; i++) b[i] = (i * 7 + 3) & 0xff;
  return b;
}
