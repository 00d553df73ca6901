/** The ways a link's inner packets are carried between its two public addresses. */
export const ENCAPSULATIONS = ['gre', 'ipip', 'fou', 'gue'] as const;

/** One of {@link ENCAPSULATIONS}. */
export type Encapsulation = (typeof ENCAPSULATIONS)[number];

/** True when `text` names a supported encapsulation. */
export function isEncapsulation(text: string): text is Encapsulation {
  return (ENCAPSULATIONS as readonly string[]).includes(text);
}

/** The outer path MTU assumed when nothing better is known (Ethernet). */
export const DEFAULT_PATH_MTU = 1500;

const OUTER_IPV4 = 20;
const GRE_BASE = 4;
const GRE_KEY = 4;
const UDP = 8;
const GUE_BASE = 4;

/**
 * Bytes each encapsulation adds to an inner packet. Registry links always carry a GRE key
 * (the hub tells links apart by (outer source, key)), so `gre` counts it: 20 + 4 + 4 = 28.
 * `fou` is GRE-in-UDP (RFC 8086) without a key, since UDP links are told apart by port;
 * `gue` is GUE variant 0 with its 4-byte header.
 */
export function encapsulationOverhead(encap: Encapsulation, options: { greKey: boolean }): number {
  switch (encap) {
    case 'gre': return OUTER_IPV4 + GRE_BASE + (options.greKey ? GRE_KEY : 0);
    case 'ipip': return OUTER_IPV4;
    case 'fou': return OUTER_IPV4 + UDP + GRE_BASE;
    case 'gue': return OUTER_IPV4 + UDP + GUE_BASE;
  }
}

/** The inner MTU of a tunnel: the path MTU less the encapsulation overhead. */
export function tunnelMtu(encap: Encapsulation, options: { greKey: boolean; pathMtu?: number }): number {
  return (options.pathMtu ?? DEFAULT_PATH_MTU) - encapsulationOverhead(encap, options);
}
