import { TunnelError } from '../errors.js';

/** An encapsulation as far as its per-packet overhead goes. */
export interface TunnelOverheadSpec {
  /** gretap's overhead counts the 14-byte Ethernet header of the frames it carries. */
  encap: 'gre' | 'ipip' | 'fou' | 'gue' | 'gretap';
  /** The outer IP version (default 4): an IPv6 header is 40 bytes, IPv4's 20. */
  outer?: 4 | 6;
  /** What FOU/GUE carry inside UDP (default 'gre', as RFC 8086 GRE-in-UDP); ignored for gre/ipip. */
  inner?: 'gre' | 'ipip';
  /** GRE fields present (only where a GRE header is present). */
  key?: boolean;
  sequence?: boolean;
  checksum?: boolean;
  /**
   * ESP in transport mode around the outer packet's payload (gre, gretap, ipip): 'raw' (IP
   * protocol 50) or 'udp' (ESP in UDP, RFC 3948, 8 bytes more). Absent: no ESP.
   */
  esp?: 'raw' | 'udp';
}

const OUTER_IPV4 = 20;
const OUTER_IPV6 = 40;
const UDP = 8;
const GUE = 4;
const GRE_BASE = 4;
const ETHERNET = 14;
const GRE_FIELD = 4;
/** SPI 4, sequence number 4, explicit IV 8 (RFC 4106, RFC 7634). */
export const ESP_HEADER_OVERHEAD = 16;
/** Pad length 1, next header 1, ICV 16; padding (0-3) comes on top, to a multiple of 4. */
export const ESP_TRAILER_OVERHEAD = 18;
const ESP_ICV = 16;

/**
 * Bytes an encapsulation adds to each inner packet: outer IPv4 20 (IPv6 40), UDP 8 (fou/gue),
 * GUE 4, GRE 4 plus 4 each for key, sequence and checksum. Plain GRE is 24, so 1476 on a 1500
 * path (1456 over IPv6); gretap adds the carried frame's 14-byte Ethernet header, so its TAP
 * takes 1462 (Linux's gretap default). IPv6 outer headers carry no extension headers here (no
 * tunnel encapsulation limit option, as Linux's `encaplimit none`).
 */
export function tunnelOverhead(spec: TunnelOverheadSpec): number {
  if (spec.esp !== undefined) return tunnelOverhead({ ...spec, esp: undefined }) + espFixedOverhead(spec) + ESP_MAX_PADDING;
  const outer = spec.outer === 6 ? OUTER_IPV6 : OUTER_IPV4;
  const hasGre = spec.encap === 'gre' || spec.encap === 'gretap' || ((spec.encap === 'fou' || spec.encap === 'gue') && (spec.inner ?? 'gre') === 'gre');
  const gre = hasGre
    ? GRE_BASE + (spec.key ? GRE_FIELD : 0) + (spec.sequence ? GRE_FIELD : 0) + (spec.checksum ? GRE_FIELD : 0)
    : 0;
  switch (spec.encap) {
    case 'gre':
    case 'ipip':
      return outer + gre;
    case 'gretap':
      return outer + gre + ETHERNET;
    case 'fou':
      return outer + UDP + gre;
    case 'gue':
      return outer + UDP + GUE + gre;
    default:
      throw new TunnelError('ERR_INVALID_ARGUMENT', `unknown encapsulation: ${String((spec as { encap: unknown }).encap)}`);
  }
}

/**
 * The inner MTU of a tunnel over a path of `pathMtu` bytes: pathMtu − tunnelOverhead(spec). With
 * ESP, the largest inner packet whose ESP payload (GRE or IP, and the inner packet) padded with
 * its pad length and next header to a multiple of 4 still fits: 1442 for gre over raw ESP on a
 * 1500 path, where the fixed overhead alone would allow 1444 (1444 + 4 + 2 is not a multiple of 4).
 */
export function tunnelMtu(pathMtu: number, spec: TunnelOverheadSpec): number {
  if (spec.esp === undefined) return pathMtu - tunnelOverhead(spec);
  const plain = tunnelOverhead({ ...spec, esp: undefined });
  const outer = spec.outer === 6 ? OUTER_IPV6 : OUTER_IPV4;
  // What the ESP packet may carry: the path less outer IP, UDP, ESP header and ICV.
  const room = pathMtu - outer - (spec.esp === 'udp' ? UDP : 0) - ESP_HEADER_OVERHEAD - ESP_ICV;
  const payload = Math.floor(room / 4) * 4 - 2;
  return payload - (plain - outer);
}

/** Bytes of padding ESP may add at most (RFC 4303 §2.4: to a multiple of 4). */
export const ESP_MAX_PADDING = 3;

function espFixedOverhead(spec: TunnelOverheadSpec): number {
  return (spec.esp === 'udp' ? UDP : 0) + ESP_HEADER_OVERHEAD + ESP_TRAILER_OVERHEAD;
}
