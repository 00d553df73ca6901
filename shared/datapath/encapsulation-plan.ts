import { encodeGreHeader, GRE_PROTO_ETHERNET, GRE_PROTO_IPV4, GRE_PROTO_IPV6 } from '../wire/gre.js';
import { encodeGueHeader } from '../wire/gue.js';
import { IPPROTO_GRE, IPPROTO_IPIP, IPPROTO_IPV6 } from '../wire/ip-protocols.js';
import { tunnelMtu } from '../wire/tunnel-overhead.js';
import type { TunnelSpec } from './tunnel-spec.js';

/**
 * Which kind of shared outer socket a tunnel sends and receives through: a raw socket for IP
 * protocol 47 (gre), 4 (ipip: IPv4 in IP), 41 (ipv6: IPv6 in IP) or 50 (esp: an encrypted
 * tunnel's ESP), or a UDP socket (fou, gue, ESP in UDP).
 */
export type OuterTransport = 'gre' | 'ipip' | 'ipv6' | 'esp' | 'udp';

/** Outer path MTU assumed when deriving a tunnel's MTU (Ethernet). */
export const DEFAULT_PATH_MTU = 1500;

/**
 * How one tunnel wraps its inner packets: the fixed bytes put in front of each IPv4 and IPv6
 * packet (built once, by the shared/wire encoders, and copied per packet) and the resulting MTU.
 * The outer IPv4 and UDP headers are the kernel's: raw and UDP sockets build them.
 */
export interface EncapsulationPlan {
  readonly transport: OuterTransport;
  /**
   * The socket inner IPv6 packets go through: `transport`, except for ipip over IPv6 (Linux
   * ip6tnl), where IPv6 in IPv6 is protocol 41 and IPv4 in IPv6 protocol 4.
   */
  readonly transport6: OuterTransport;
  /**
   * gretap: the prefix of every Ethernet frame (GRE with protocol 0x6558), and the tunnel carries
   * frames from a TAP instead of IP packets; null for the IP encapsulations.
   */
  readonly frame: Uint8Array | null;
  /** Prefix for an inner IPv4 packet (gretap: the frame prefix, for its length). */
  readonly header4: Uint8Array;
  /** Prefix for an inner IPv6 packet, or null when the encapsulation cannot carry IPv6 (ipip). */
  readonly header6: Uint8Array | null;
  readonly mtu: number;
  /**
   * An encrypted tunnel: the ESP next header of what header4 / header6 start (47 GRE, 4 IPv4, 41
   * IPv6), and the raw socket where cleartext for it would arrive (counted `rx:cleartext`, never
   * delivered; null on ESP in UDP). Null for a cleartext tunnel.
   */
  readonly esp: { readonly nextHeader4: number; readonly nextHeader6: number; readonly cleartext: OuterTransport | null } | null;
}

/**
 * The plan for a spec. gre: GRE (RFC 2784/2890, key when given) over IP protocol 47 (Linux gre,
 * or ip6gre over IPv6). ipip: the bare inner packet; over IPv4 protocol 4 and IPv4 only (IPv6 is
 * not carried, as a Linux ipip device), over IPv6 both, as Linux ip6tnl `mode any` (protocol 4 or
 * 41). fou: the same GRE packet as UDP payload (RFC 8086, Linux `type gre … encap fou`, port
 * `ipproto 47`). gue: a 4-byte GUE variant 0 header whose protocol is 4 (IPv4) or 41 (IPv6), then
 * the inner packet (Linux `type ipip … encap gue` for IPv4). gretap: GRE with protocol 0x6558 (key
 * when given) in front of each Ethernet frame of a TAP, over protocol 47 (Linux gretap, ip6gretap).
 *
 * With `esp`, the same payload is sealed as ESP (next header 47, 4 or 41) and goes out a raw ESP
 * socket (protocol 50) or, with esp.udp, as ESP in UDP (RFC 3948), as Linux xfrm in transport mode.
 *
 * The MTU is the spec's, else the path MTU less the overhead (with ESP's, padding counted); `learnedPathMtu` (from ICMP Packet
 * Too Big on the outer path) lowers either when the path takes less.
 */
export function planEncapsulation(spec: TunnelSpec, pathMtu = DEFAULT_PATH_MTU, learnedPathMtu: number | null = null): EncapsulationPlan {
  const key = spec.key ?? undefined;
  const espForm = spec.esp === null ? undefined : spec.esp.udp === null ? 'raw' : 'udp';
  const overhead = { encap: spec.encap, outer: spec.outerFamily, inner: spec.encap === 'gue' ? 'ipip' : 'gre', key: key !== undefined, esp: espForm } as const;
  const derivedMtu = tunnelMtu(pathMtu, overhead);
  const mtu = learnedPathMtu === null ? spec.mtu ?? derivedMtu : Math.min(spec.mtu ?? derivedMtu, tunnelMtu(learnedPathMtu, overhead));
  const plain = planPlain(spec, key, mtu);
  if (espForm === undefined) return plain;
  // ESP in transport mode: the same GRE or IP payload, sealed, on one ESP socket (raw or UDP).
  const transport = espForm === 'udp' ? 'udp' : 'esp';
  const gre = plain.transport === 'gre';
  return {
    ...plain, transport, transport6: transport,
    esp: { nextHeader4: gre ? IPPROTO_GRE : IPPROTO_IPIP, nextHeader6: gre ? IPPROTO_GRE : IPPROTO_IPV6, cleartext: espForm === 'raw' ? plain.transport : null },
  };
}

function planPlain(spec: TunnelSpec, key: number | undefined, mtu: number): EncapsulationPlan {
  const esp = null;
  switch (spec.encap) {
    case 'gre':
    case 'fou': {
      const transport = spec.encap === 'gre' ? 'gre' : 'udp';
      return { transport, transport6: transport, frame: null, header4: greHeader(GRE_PROTO_IPV4, key), header6: greHeader(GRE_PROTO_IPV6, key), mtu, esp };
    }
    case 'ipip':
      return spec.outerFamily === 6
        ? { transport: 'ipip', transport6: 'ipv6', frame: null, header4: new Uint8Array(0), header6: new Uint8Array(0), mtu, esp }
        : { transport: 'ipip', transport6: 'ipip', frame: null, header4: new Uint8Array(0), header6: null, mtu, esp };
    case 'gue':
      return { transport: 'udp', transport6: 'udp', frame: null, header4: gueHeader(IPPROTO_IPIP), header6: gueHeader(IPPROTO_IPV6), mtu, esp };
    case 'gretap': {
      const frame = greHeader(GRE_PROTO_ETHERNET, key);
      return { transport: 'gre', transport6: 'gre', frame, header4: frame, header6: null, mtu, esp };
    }
  }
}

function greHeader(protocolType: number, key: number | undefined): Uint8Array {
  const header = new Uint8Array(key === undefined ? 4 : 8);
  encodeGreHeader(header, 0, key === undefined ? { protocolType } : { protocolType, key }, 0);
  return header;
}

function gueHeader(protocol: number): Uint8Array {
  const header = new Uint8Array(4);
  encodeGueHeader(header, 0, { protocol });
  return header;
}
