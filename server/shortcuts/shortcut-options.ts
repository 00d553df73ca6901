/** `serve --shortcuts`: `auto` builds shortcuts for busy member pairs, `off` never does. */
export const SHORTCUT_MODES = ['auto', 'off'] as const;

/** The hub's shortcut mode. */
export type ShortcutMode = (typeof SHORTCUT_MODES)[number];

/** How busy a member pair must be, and for how long, before the hub builds it a shortcut. */
export interface ShortcutThreshold {
  /** Bits per second forwarded between the two through the hub, both ways together. */
  readonly bitsPerSecond: number;
  /** How long every reading must stay at or above the rate (ms). */
  readonly sustainMs: number;
}

/** Everything `serve` says about shortcuts, as the hub's runtime uses it. */
export interface ShortcutOptions {
  readonly mode: ShortcutMode;
  /** `--shortcut-threshold`. */
  readonly threshold: ShortcutThreshold;
  /** `--shortcut-idle`: a shortcut with no traffic for this long is removed (ms). */
  readonly idleMs: number;
  /** `--shortcuts-max`: shortcuts one member may have at once; beyond it the least active goes first. */
  readonly maxPerMember: number;
}

/** The defaults: auto, 1 Mbit/s for 2 s, idle after 5 min, 32 per member. */
export const DEFAULT_SHORTCUT_OPTIONS: ShortcutOptions = {
  mode: 'auto',
  threshold: { bitsPerSecond: 1_000_000, sustainMs: 2_000 },
  idleMs: 300_000,
  maxPerMember: 32,
};
