/** The ways a link's inner packets are carried between its two public addresses. */
export const ENCAPSULATIONS = ['gre', 'ipip', 'fou', 'gue'] as const;

/** One of {@link ENCAPSULATIONS}. Per-encapsulation overheads live in shared/wire/tunnel-overhead. */
export type Encapsulation = (typeof ENCAPSULATIONS)[number];

/** True when `text` names a supported encapsulation. */
export function isEncapsulation(text: string): text is Encapsulation {
  return (ENCAPSULATIONS as readonly string[]).includes(text);
}
