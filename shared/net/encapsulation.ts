/**
 * The ways a link's inner packets are carried between its two public addresses. gretap carries
 * Ethernet frames (GRE protocol 0x6558) on a TAP device instead of IP packets on a TUN.
 */
export const ENCAPSULATIONS = ['gre', 'ipip', 'fou', 'gue', 'gretap'] as const;

/** One of {@link ENCAPSULATIONS}. Per-encapsulation overheads live in shared/wire/tunnel-overhead. */
export type Encapsulation = (typeof ENCAPSULATIONS)[number];

/** True when `text` names a supported encapsulation. */
export function isEncapsulation(text: string): text is Encapsulation {
  return (ENCAPSULATIONS as readonly string[]).includes(text);
}
