import { describe, expect, it } from 'vitest';
import { clampTcpMss, encodeIpv4Header, internetChecksum } from '../../shared/wire/index.js';

// A Linux-shaped SYN: MSS 1460, SACK permitted, timestamps, NOP, window scale 7.
const SYN_OPTIONS = '020405b4' + '0402080a' + '0001e240' + '00000000' + '01030307';

function tcpSegment(options: string, flags = 0x02): Buffer {
  const opts = Buffer.from(options, 'hex');
  const segment = Buffer.alloc(20 + opts.length + 5, 0x33);
  segment.writeUInt16BE(40000, 0);
  segment.writeUInt16BE(5201, 2);
  segment.writeUInt32BE(0x01020304, 4);
  segment.writeUInt32BE(0, 8);
  segment[12] = ((20 + opts.length) / 4) << 4;
  segment[13] = flags;
  segment.writeUInt16BE(64240, 14);
  segment.writeUInt16BE(0, 16);
  segment.writeUInt16BE(0, 18);
  opts.copy(segment, 20);
  return segment;
}

function ipv4Pseudo(packet: Buffer, tcpLength: number): Buffer {
  const pseudo = Buffer.alloc(12);
  packet.copy(pseudo, 0, 12, 20);
  pseudo[9] = 6;
  pseudo.writeUInt16BE(tcpLength, 10);
  return pseudo;
}

function ipv4Syn(options: string, flags = 0x02): Buffer {
  const segment = tcpSegment(options, flags);
  const packet = Buffer.alloc(20 + segment.length);
  encodeIpv4Header(packet, 0, { totalLength: packet.length, ttl: 64, protocol: 6, dontFragment: true, src: 0x0a000001, dst: 0x0a000002 });
  segment.copy(packet, 20);
  const whole = Buffer.concat([ipv4Pseudo(packet, segment.length), segment]);
  packet.writeUInt16BE(internetChecksum(whole, 0, whole.length), 36);
  return packet;
}

/** Full recomputation: pseudo-header + segment must sum to 0 with the stored checksum. */
function ipv4TcpChecksumVerifies(packet: Buffer): boolean {
  const segment = packet.subarray(20);
  const whole = Buffer.concat([ipv4Pseudo(packet, segment.length), segment]);
  return internetChecksum(whole, 0, whole.length) === 0;
}

describe('clampTcpMss (IPv4)', () => {
  it('lowers the MSS of a SYN and keeps the TCP checksum valid', () => {
    const packet = ipv4Syn(SYN_OPTIONS);
    expect(ipv4TcpChecksumVerifies(packet)).toBe(true);
    expect(clampTcpMss(packet, 0, packet.length, 1436)).toBe(true);
    expect(packet.readUInt16BE(42)).toBe(1436);
    expect(ipv4TcpChecksumVerifies(packet)).toBe(true);
    expect(internetChecksum(packet, 0, 20)).toBe(0);
  });

  it('handles an MSS option at an odd offset (after a single NOP)', () => {
    const packet = ipv4Syn('01' + '020405b4' + '010100');
    expect(clampTcpMss(packet, 0, packet.length, 1400)).toBe(true);
    expect(packet.readUInt16BE(43)).toBe(1400);
    expect(ipv4TcpChecksumVerifies(packet)).toBe(true);
  });

  it('fixes the checksum for many MSS values and clamps inside a larger buffer', () => {
    for (let mss = 600; mss <= 9000; mss += 97) {
      const packet = ipv4Syn(SYN_OPTIONS.replace('05b4', mss.toString(16).padStart(4, '0')));
      const framed = Buffer.concat([Buffer.alloc(6, 0xcc), packet, Buffer.alloc(6, 0xcc)]);
      const changed = clampTcpMss(framed, 6, packet.length, 1436);
      expect(changed).toBe(mss > 1436);
      const after = framed.subarray(6, 6 + packet.length);
      expect(after.readUInt16BE(42)).toBe(Math.min(mss, 1436));
      expect(ipv4TcpChecksumVerifies(Buffer.from(after))).toBe(true);
      expect(framed.subarray(0, 6).every((b) => b === 0xcc) && framed.subarray(6 + packet.length).every((b) => b === 0xcc)).toBe(true);
    }
  });

  it('leaves alone: SYN-less segments, small MSS, no MSS option, malformed options, non-TCP, fragments', () => {
    const cases: Array<[string, Buffer]> = [
      ['ACK only', ipv4Syn(SYN_OPTIONS, 0x10)],
      ['MSS already small', ipv4Syn(SYN_OPTIONS.replace('05b4', '0400'))],
      ['no MSS option', ipv4Syn('0402080a0001e2400000000001030307')],
      ['END before MSS', ipv4Syn('00' + '020405b4' + '000000')],
      ['zero-length option', ipv4Syn('0800' + '020405b4' + '0000')],
      ['option past the header', ipv4Syn('01010108' + '020405b4')],
    ];
    const udp = ipv4Syn(SYN_OPTIONS);
    udp[9] = 17;
    cases.push(['UDP', udp]);
    const fragment = ipv4Syn(SYN_OPTIONS);
    fragment.writeUInt16BE(0x0001, 6);
    cases.push(['non-first fragment', fragment]);
    for (const [name, packet] of cases) {
      const before = Buffer.from(packet);
      expect(clampTcpMss(packet, 0, packet.length, 1200), name).toBe(false);
      expect(packet, name).toEqual(before);
    }
  });

  it('never reads past a truncated window', () => {
    const packet = ipv4Syn(SYN_OPTIONS);
    for (let cut = 0; cut < packet.length; cut++) {
      const copy = Buffer.from(packet);
      expect(clampTcpMss(copy, 0, cut, 1200)).toBe(false);
      expect(copy).toEqual(packet);
    }
    expect(clampTcpMss(packet, 10, packet.length, 1200)).toBe(false);
  });
});

describe('clampTcpMss (IPv6)', () => {
  it('lowers the MSS of a SYN right after the fixed header and keeps the checksum valid', () => {
    const segment = tcpSegment(SYN_OPTIONS);
    const packet = Buffer.alloc(40 + segment.length);
    packet.writeUInt32BE(0x60000000, 0);
    packet.writeUInt16BE(segment.length, 4);
    packet[6] = 6;
    packet[7] = 64;
    Buffer.from('fd000000000000000000000000000001fd000000000000000000000000000002', 'hex').copy(packet, 8);
    segment.copy(packet, 40);
    const pseudo = (): Buffer => {
      const p = Buffer.alloc(40);
      packet.copy(p, 0, 8, 40);
      p.writeUInt32BE(segment.length, 32);
      p[39] = 6;
      return Buffer.concat([p, packet.subarray(40)]);
    };
    const initial = pseudo();
    packet.writeUInt16BE(internetChecksum(initial, 0, initial.length), 56);
    expect(clampTcpMss(packet, 0, packet.length, 1220)).toBe(true);
    expect(packet.readUInt16BE(62)).toBe(1220);
    const after = pseudo();
    expect(internetChecksum(after, 0, after.length)).toBe(0);
  });
});
