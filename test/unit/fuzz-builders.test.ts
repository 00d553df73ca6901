import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  buildIcmpFragmentationNeeded,
  buildIcmpv6PacketTooBig,
  clampTcpMss,
  decodeIpv4,
  decodeIpv6,
  ICMP_FRAG_NEEDED_MAX_LENGTH,
  internetChecksum,
  IPV6_MIN_MTU,
  onesComplementSum,
} from '../../shared/wire/index.js';
import { guardWindow } from '../fixtures/wire/bounds-guard.js';
import { framedArbitrary, mutatedPacketArbitrary, repairIpv4HeaderChecksum } from '../fixtures/wire/fuzz-arbitraries.js';
import { IPV4_SEEDS, IPV6_TOO_BIG_SEEDS, TCP_SYN_SEEDS } from '../fixtures/wire/valid-packets.js';

const RUNS = 100_000;
// Packet Too Big originals reach 1484 bytes, each byte read through the bounds-guard Proxy: fewer
// runs keep this file within seconds (these are builders, not decoders of outer packets).
const PTB_RUNS = 25_000;
const TIMEOUT_MS = 180_000;

/** Ones' complement residual of pseudo-header + TCP segment of the IPv4 packet at `offset`. */
function tcpResidual(buf: Buffer, offset: number): number {
  const headerLength = (buf[offset]! & 0x0f) * 4;
  const tcpLength = buf.readUInt16BE(offset + 2) - headerLength;
  const pseudo = Buffer.alloc(12);
  buf.copy(pseudo, 0, offset + 12, offset + 20);
  pseudo[9] = 6;
  pseudo.writeUInt16BE(tcpLength, 10);
  return onesComplementSum(buf, offset + headerLength, tcpLength, onesComplementSum(pseudo, 0, 12)) % 0xffff;
}

describe('fuzz clampTcpMss', () => {
  it(
    `${RUNS} mutated SYNs: never throws, writes only MSS and checksum inside the window, keeps the checksum residual`,
    () => {
      let clamped = 0;
      fc.assert(
        fc.property(framedArbitrary(mutatedPacketArbitrary(TCP_SYN_SEEDS, repairIpv4HeaderChecksum)), fc.integer({ min: 0, max: 0xffff }), ({ buffer, offset, length }, maxMss) => {
          const before = Buffer.from(buffer);
          const guarded = guardWindow(buffer, offset, length, true);
          const changed = clampTcpMss(guarded.view, offset, length, maxMss);
          if (guarded.violations.length > 0) throw new Error(`touched outside the window: ${guarded.violations.join(', ')}`);
          let differing = 0;
          for (let i = 0; i < buffer.length; i++) if (buffer[i] !== before[i]) differing++;
          if (!changed) {
            if (differing !== 0) throw new Error('returned false but changed the packet');
            return;
          }
          clamped++;
          if (differing > 4) throw new Error(`changed ${differing} bytes; only the MSS value and the checksum may change`);
          if (tcpResidual(buffer, offset) !== tcpResidual(before, offset)) throw new Error('incremental checksum update changed the residual');
        }),
        { numRuns: RUNS },
      );
      expect(clamped).toBeGreaterThan(RUNS / 20);
    },
    TIMEOUT_MS,
  );
});

describe('fuzz buildIcmpFragmentationNeeded', () => {
  it(
    `${RUNS} mutated originals: never throws, 0 or a packet whose checksums verify and which quotes the original`,
    () => {
      let built = 0;
      const target = Buffer.alloc(ICMP_FRAG_NEEDED_MAX_LENGTH + 8);
      fc.assert(
        fc.property(framedArbitrary(mutatedPacketArbitrary(IPV4_SEEDS, repairIpv4HeaderChecksum)), ({ buffer, offset, length }) => {
          const guarded = guardWindow(buffer, offset, length);
          const n = buildIcmpFragmentationNeeded(target, 4, guarded.view, offset, length, 1476, 0x0a0000fe);
          if (guarded.violations.length > 0) throw new Error(`touched outside the window: ${guarded.violations.join(', ')}`);
          if (n === 0) return;
          built++;
          const ip = decodeIpv4(target, 4, n);
          if (!ip.ok || ip.protocol !== 1 || ip.totalLength !== n) throw new Error('built packet does not decode as ICMP');
          if (internetChecksum(target, ip.payloadOffset, ip.payloadLength) !== 0) throw new Error('ICMP checksum does not verify');
          const quoted = target.subarray(ip.payloadOffset + 8, 4 + n);
          if (!quoted.equals(buffer.subarray(offset, offset + quoted.length))) throw new Error('quote differs from the original');
        }),
        { numRuns: RUNS },
      );
      expect(built).toBeGreaterThan(RUNS / 20);
    },
    TIMEOUT_MS,
  );
});

describe('fuzz buildIcmpv6PacketTooBig', () => {
  it(
    `${PTB_RUNS} mutated originals: never throws, 0 or a packet of at most 1280 bytes whose checksum verifies`,
    () => {
      let built = 0;
      let cut = 0;
      const target = Buffer.alloc(IPV6_MIN_MTU + 8);
      const from = Buffer.from('fd0000000000000000000000000000fe', 'hex');
      fc.assert(
        fc.property(framedArbitrary(mutatedPacketArbitrary(IPV6_TOO_BIG_SEEDS)), ({ buffer, offset, length }) => {
          const guarded = guardWindow(buffer, offset, length);
          const n = buildIcmpv6PacketTooBig(target, 4, guarded.view, offset, length, 1280, from);
          if (guarded.violations.length > 0) throw new Error(`touched outside the window: ${guarded.violations.join(', ')}`);
          if (n === 0) return;
          built++;
          const ip = decodeIpv6(target, 4, n);
          if (!ip.ok || n > IPV6_MIN_MTU || ip.nextHeader !== 58 || 40 + ip.payloadLength !== n) throw new Error('built packet is not a valid ICMPv6 message');
          const pseudo = Buffer.alloc(40);
          target.copy(pseudo, 0, 4 + 8, 4 + 40);
          pseudo.writeUInt32BE(ip.payloadLength, 32);
          pseudo[39] = 58;
          if (internetChecksum(target, ip.payloadOffset, ip.payloadLength, onesComplementSum(pseudo, 0, 40)) !== 0) throw new Error('ICMPv6 checksum does not verify');
          const quoted = target.subarray(ip.payloadOffset + 8, 4 + n);
          if (!quoted.equals(buffer.subarray(offset, offset + quoted.length))) throw new Error('quote differs from the original');
          if (n === IPV6_MIN_MTU) cut++;
        }),
        { numRuns: PTB_RUNS },
      );
      expect(built).toBeGreaterThan(PTB_RUNS / 20);
      expect(cut).toBeGreaterThan(PTB_RUNS / 20);
    },
    TIMEOUT_MS,
  );
});
