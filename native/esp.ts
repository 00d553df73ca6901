/**
 * ESP in transport mode (RFC 4303) over packet batches, as Linux xfrm sends and accepts it:
 * security associations that seal, an inbound table that opens, and the anti-replay window. The
 * crypto runs in the addon (native/src/esp-*.cc) with node's own OpenSSL; this module checks
 * arguments and names results. There is no second ESP implementation in TypeScript. Key material
 * goes into the addon and never comes back: not in counters, JSON, inspection or errors.
 */
import type { NativeAddon, NativeEspInboundHandle, NativeEspReplayWindowHandle, NativeEspSaHandle } from './addon-binding.js';
import type { BatchViews } from './batch-views.js';
import { EspError, toEspError } from './esp-error.js';
import type { PacketBatchMemory } from './types.js';

/** The AEADs: AES-GCM (RFC 4106, Linux `rfc4106(gcm(aes))`) and ChaCha20-Poly1305 (RFC 7634, `rfc7539esp(chacha20,poly1305)`). */
export type EspAead = 'aes-gcm' | 'chacha20-poly1305';

/** Key lengths with the 4-byte salt, per AEAD: what `ip xfrm state … aead NAME 0xKEY 128` takes. */
export const ESP_KEY_BYTES: Readonly<Record<EspAead, readonly number[]>> = {
  'aes-gcm': [20, 28, 36],
  'chacha20-poly1305': [36],
};

/** Sequence numbers the replay window accepts below the highest one seen (native/src/esp-replay-window.h). */
export const ESP_REPLAY_WINDOW = 1024;
/** Bytes ESP puts in front of a payload: SPI, sequence number, explicit IV. */
export const ESP_HEADROOM = 16;
/** The most bytes ESP puts after a payload: 3 of padding, pad length, next header, 16-byte ICV. */
export const ESP_MAX_TAILROOM = 21;
/** The last sequence number an SA may send; it never wraps (no ESN), so it is replaced before. */
export const ESP_LAST_SEQUENCE = 0xffff_ffff;
/** Where RekeyDue turns true by default: half the sequence space, leaving the other half for the rekey to finish. */
export const ESP_DEFAULT_REKEY_SEQUENCE = 0x8000_0000;

/** What happened to each slot of a seal or open (index = the code the addon writes). */
export const ESP_OUTCOMES = [
  'ok',
  'malformed',
  'unknown-spi',
  'auth-failed',
  'replayed',
  'no-room',
  'sequence-exhausted',
  'cipher-error',
] as const;
/** One slot's outcome. */
export type EspOutcome = (typeof ESP_OUTCOMES)[number];

/** The name of outcome code `code` (as written into EspSlotResults.outcomes). */
export function espOutcomeName(code: number): EspOutcome {
  const name = ESP_OUTCOMES[code];
  if (name === undefined) throw new EspError('ERR_INVALID_ARGUMENT', `no ESP outcome has code ${String(code)}`);
  return name;
}

/** How to build an SA. Only spi, aead and key matter in use; the rest has safe defaults. */
export interface EspSaConfig {
  /** 256 to 2^32 - 1 (0 marks non-ESP traffic on UDP 4500, 1-255 are reserved). */
  spi: number;
  aead: EspAead;
  /** The cipher key followed by the 4-byte salt (ESP_KEY_BYTES). Copied into the addon; the caller may wipe its copy. */
  key: Uint8Array;
  /** The first sequence number sent. Default 1; another value only for known-answer and exhaustion tests. */
  firstSequence?: number;
  /** The sequence number from which counters().rekeyDue is true (1 to 2^32). Default ESP_DEFAULT_REKEY_SEQUENCE. */
  rekeySequence?: number;
  /**
   * 8 bytes XORed into the 64-bit sequence number to make each explicit IV, as the kernel's seqiv
   * does. Default: random per SA. Given only by known-answer tests.
   */
  ivMask?: Uint8Array | null;
}

/** Per-slot arrays of a seal or open: next headers (in for seal, out for open) and outcome codes (out). */
export interface EspSlotResults {
  readonly nextHeaders: Uint8Array;
  readonly outcomes: Uint8Array;
}

/** Allocates the per-slot arrays for batches of up to `capacity` packets, once. */
export function createEspSlotResults(capacity: number): EspSlotResults {
  if (!Number.isInteger(capacity) || capacity < 1 || capacity > 1024) {
    throw new EspError('ERR_INVALID_ARGUMENT', `ESP slot results capacity must be an integer from 1 to 1024, got ${String(capacity)}`);
  }
  return { nextHeaders: new Uint8Array(capacity), outcomes: new Uint8Array(capacity) };
}

/** What one SA has done since it was made. Bytes are payload bytes (before sealing, after opening). */
export interface EspSaCounters {
  sealedPackets: number;
  sealedBytes: number;
  sealNoRoom: number;
  sealExhausted: number;
  cipherErrors: number;
  openedPackets: number;
  openedBytes: number;
  authFailed: number;
  replayed: number;
  malformed: number;
  /** The last sequence number sealed (0 before the first). */
  lastSequence: number;
  /** The highest sequence number opened (0 before the first). */
  highestReceived: number;
  /** The next sequence number reached rekeySequence: a new SA should take over. */
  rekeyDue: boolean;
}

/** Packets an inbound table could give to no SA, and how many SAs it holds. */
export interface EspInboundCounters {
  unknownSpi: number;
  truncated: number;
  sas: number;
}

/** The addon and its batch views, as native/index.ts loads them. */
export interface EspAddonContext {
  addon: NativeAddon;
  views: BatchViews;
}

const AEAD_CODES: Readonly<Record<EspAead, number>> = { 'aes-gcm': 1, 'chacha20-poly1305': 2 };

/** One security association (one direction of a link). Seals batches; an EspInbound opens with it. */
export class EspSecurityAssociation {
  readonly spi: number;
  readonly aead: EspAead;
  #handle: NativeEspSaHandle | null;
  readonly #views: BatchViews;

  /** Use createEspSa (native/index.ts). */
  constructor(handle: NativeEspSaHandle, views: BatchViews, spi: number, aead: EspAead) {
    this.#handle = handle;
    this.#views = views;
    this.spi = spi;
    this.aead = aead;
  }

  /**
   * Seals slots [0, count) in place: each payload (needing ESP_HEADROOM bytes before it and up to
   * ESP_MAX_TAILROOM after it in its slot) becomes the ESP packet carrying results.nextHeaders[i]
   * (47 GRE, 4 IPv4, 41 IPv6); its offset moves back by ESP_HEADROOM. results.outcomes[i] says
   * how each went; returns how many sealed.
   */
  seal(batch: PacketBatchMemory, count: number, results: EspSlotResults): number {
    const handle = this.#open();
    checkBatchCall(batch, count, results);
    try {
      return handle.seal(this.#views.viewOf(batch), count, results.nextHeaders, results.outcomes);
    } catch (err) {
      throw toEspError(err, `sealing with ESP SA ${spiText(this.spi)}`);
    }
  }

  counters(): EspSaCounters {
    const [
      sealedPackets, sealedBytes, sealNoRoom, sealExhausted, cipherErrors, openedPackets, openedBytes, authFailed, replayed,
      malformed, lastSequence, highestReceived, rekeyDue,
    ] = this.#open().counters();
    return {
      sealedPackets, sealedBytes, sealNoRoom, sealExhausted, cipherErrors, openedPackets, openedBytes, authFailed, replayed,
      malformed, lastSequence, highestReceived, rekeyDue: rekeyDue === 1,
    };
  }

  /** Lets go of the SA (an EspInbound holding it keeps it until removed). Idempotent. */
  close(): void {
    this.#handle?.close();
    this.#handle = null;
  }

  get closed(): boolean {
    return this.#handle === null;
  }

  /** What status and logs may show: the SPI and AEAD, never the key. */
  toJSON(): { spi: number; aead: EspAead } {
    return { spi: this.spi, aead: this.aead };
  }

  /** @internal The addon's handle, for EspInbound.add. */
  nativeHandle(): NativeEspSaHandle {
    return this.#open();
  }

  #open(): NativeEspSaHandle {
    if (this.#handle === null) throw new EspError('ERR_CLOSED', `ESP SA ${spiText(this.spi)} is closed`);
    return this.#handle;
  }
}

/** A receiver's inbound SAs by SPI; opens batches of ESP packets with whichever SA each names. */
export class EspInbound {
  #handle: NativeEspInboundHandle | null;
  readonly #views: BatchViews;

  /** Use createEspInbound (native/index.ts). */
  constructor(handle: NativeEspInboundHandle, views: BatchViews) {
    this.#handle = handle;
    this.#views = views;
  }

  /** Adds `sa`, replacing any SA with its SPI. */
  add(sa: EspSecurityAssociation): void {
    const handle = this.#open();
    if (!(sa instanceof EspSecurityAssociation)) throw new EspError('ERR_INVALID_ARGUMENT', 'ESP inbound: add() takes an ESP SA');
    try {
      handle.add(sa.nativeHandle());
    } catch (err) {
      throw toEspError(err, `adding ESP SA ${spiText(sa.spi)}`);
    }
  }

  /** Removes the SA with `spi`; false when there was none. */
  remove(spi: number): boolean {
    checkSpi(spi);
    return this.#open().remove(spi);
  }

  /**
   * Opens slots [0, count) in place: on 'ok' slot i holds the payload (offset forward by
   * ESP_HEADROOM, trailer and ICV cut) and results.nextHeaders[i] says what it is. Returns how
   * many opened; a slot with another outcome is to be dropped (the SA or this table counted it).
   */
  open(batch: PacketBatchMemory, count: number, results: EspSlotResults): number {
    const handle = this.#open();
    checkBatchCall(batch, count, results);
    try {
      return handle.open(this.#views.viewOf(batch), count, results.nextHeaders, results.outcomes);
    } catch (err) {
      throw toEspError(err, 'opening ESP packets');
    }
  }

  counters(): EspInboundCounters {
    const [unknownSpi, truncated, sas] = this.#open().counters();
    return { unknownSpi, truncated, sas };
  }

  /** Drops every SA it holds. Idempotent. */
  close(): void {
    this.#handle?.close();
    this.#handle = null;
  }

  /** @internal The addon's handle, for a fast route. */
  nativeHandle(): NativeEspInboundHandle {
    return this.#open();
  }

  #open(): NativeEspInboundHandle {
    if (this.#handle === null) throw new EspError('ERR_CLOSED', 'ESP inbound table is closed');
    return this.#handle;
  }
}

/** How the replay window judges a sequence number. */
export type EspReplayVerdict = 'fresh' | 'duplicate' | 'stale';

const VERDICTS: readonly EspReplayVerdict[] = ['fresh', 'duplicate', 'stale'];

/** The anti-replay window every inbound SA runs, on its own: the shipped code, for tests. */
export class EspReplayWindow {
  readonly #handle: NativeEspReplayWindowHandle;

  /** Use createEspReplayWindow (native/index.ts). */
  constructor(handle: NativeEspReplayWindowHandle) {
    this.#handle = handle;
  }

  /** Whether `sequence` (0 to 2^32 - 1) would be accepted; changes nothing. */
  check(sequence: number): EspReplayVerdict {
    checkSequence(sequence, 0);
    return VERDICTS[this.#handle.check(sequence)] ?? 'stale';
  }

  /** Records `sequence` (1 to 2^32 - 1) as received. */
  accept(sequence: number): void {
    checkSequence(sequence, 1);
    this.#handle.accept(sequence);
  }

  /** The highest sequence number accepted (0 before the first). */
  get highest(): number {
    return this.#handle.highest();
  }
}

/** Checks `config` and makes the SA in the addon `load()` gives; nothing is loaded when config is refused. */
export function createEspSaWith(load: () => EspAddonContext, config: EspSaConfig): EspSecurityAssociation {
  if (typeof config !== 'object' || config === null) throw new EspError('ERR_INVALID_ARGUMENT', 'ESP SA: expected a config object');
  const { spi, aead, key } = config;
  checkSpi(spi);
  if (aead !== 'aes-gcm' && aead !== 'chacha20-poly1305') {
    throw new EspError('ERR_INVALID_ARGUMENT', `ESP SA ${spiText(spi)}: aead must be 'aes-gcm' or 'chacha20-poly1305'`);
  }
  if (!(key instanceof Uint8Array) || !ESP_KEY_BYTES[aead].includes(key.length)) {
    const length = key instanceof Uint8Array ? `${String(key.length)} bytes` : 'not bytes';
    throw new EspError('ERR_INVALID_KEY', `ESP SA ${spiText(spi)}: an ${aead} key with its 4-byte salt is ${ESP_KEY_BYTES[aead].join(', ')} bytes, got ${length}`);
  }
  const firstSequence = config.firstSequence ?? 1;
  checkSequence(firstSequence, 1);
  const rekeySequence = config.rekeySequence ?? ESP_DEFAULT_REKEY_SEQUENCE;
  if (!Number.isInteger(rekeySequence) || rekeySequence < 1 || rekeySequence > 2 ** 32) {
    throw new EspError('ERR_INVALID_ARGUMENT', `ESP SA ${spiText(spi)}: rekeySequence must be an integer from 1 to 2^32`);
  }
  const ivMask = config.ivMask ?? null;
  if (ivMask !== null && !(ivMask instanceof Uint8Array && ivMask.length === 8)) {
    throw new EspError('ERR_INVALID_ARGUMENT', `ESP SA ${spiText(spi)}: ivMask must be 8 bytes`);
  }
  const { addon, views } = load();
  let handle: NativeEspSaHandle;
  try {
    handle = new addon.EspSa(spi, AEAD_CODES[aead], key, firstSequence, rekeySequence, ivMask);
  } catch (err) {
    throw toEspError(err, `making ESP SA ${spiText(spi)}`);
  }
  return new EspSecurityAssociation(handle, views, spi, aead);
}

/** An empty inbound table in the addon `load()` gives. */
export function createEspInboundWith(load: () => EspAddonContext): EspInbound {
  const { addon, views } = load();
  return new EspInbound(new addon.EspInbound(), views);
}

/** A fresh replay window in the addon `load()` gives. */
export function createEspReplayWindowWith(load: () => EspAddonContext): EspReplayWindow {
  return new EspReplayWindow(new (load().addon.EspReplayWindow)());
}

function checkSpi(spi: number): void {
  if (!Number.isInteger(spi) || spi < 256 || spi > 0xffff_ffff) {
    throw new EspError('ERR_INVALID_ARGUMENT', `ESP SPI must be an integer from 256 to 2^32 - 1, got ${String(spi)}`);
  }
}

function checkSequence(sequence: number, min: number): void {
  if (!Number.isInteger(sequence) || sequence < min || sequence > ESP_LAST_SEQUENCE) {
    throw new EspError('ERR_INVALID_ARGUMENT', `ESP sequence number must be an integer from ${String(min)} to 2^32 - 1, got ${String(sequence)}`);
  }
}

function checkBatchCall(batch: PacketBatchMemory, count: number, results: EspSlotResults): void {
  if (typeof batch !== 'object' || batch === null || !Number.isInteger(count) || count < 0 || count > batch.capacity) {
    throw new EspError('ERR_INVALID_ARGUMENT', 'ESP: count must be an integer from 0 to the batch capacity');
  }
  if (!(results?.nextHeaders instanceof Uint8Array) || !(results.outcomes instanceof Uint8Array) ||
    results.nextHeaders.length < count || results.outcomes.length < count) {
    throw new EspError('ERR_INVALID_ARGUMENT', 'ESP: results must hold at least count slots (createEspSlotResults)');
  }
}

function spiText(spi: number): string {
  return Number.isInteger(spi) ? `0x${spi.toString(16).padStart(8, '0')}` : String(spi);
}
