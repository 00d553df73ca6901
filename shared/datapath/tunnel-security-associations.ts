import type { EspInbound, EspSaConfig, EspSecurityAssociation, EspSlotResults } from '../../native/esp.js';
import type { PacketBatchMemory } from '../../native/types.js';
import { TunnelError } from '../errors.js';
import type { TunnelCounters } from './tunnel-counters.js';
import { sameEspSa, type TunnelEsp, type TunnelEspAead, type TunnelEspSa } from './tunnel-esp.js';

/** Makes the addon's SAs; DatapathIo.createEspSa / createEspInbound. */
export interface EspFactory {
  createEspSa(config: EspSaConfig): EspSecurityAssociation;
  createEspInbound(): EspInbound;
}

/** An outbound SA reached its rekey point (onRekeyDue): the control plane should install the next one. */
export interface RekeyDueEvent {
  name: string;
  spi: number;
  /** The last sequence number it sealed. */
  sequence: number;
}

/** The ESP fields of a tunnel's status: SPIs and AEAD, never a key. */
export interface EspStatus {
  encrypted: boolean;
  aead: TunnelEspAead | null;
  /** Inbound SPIs, the current one first (as the spec lists them). */
  spiIn: number[];
  spiOut: number | null;
  /** Seconds since the outbound SA was installed, or null without one. */
  saAgeSeconds: number | null;
}

/** Native SA counters as last added to the tunnel's, per SA. */
interface Seen {
  sealNoRoom: number;
  sealExhausted: number;
  cipherErrors: number;
  authFailed: number;
  replayed: number;
  malformed: number;
}

const NOTHING_SEEN: Seen = { sealNoRoom: 0, sealExhausted: 0, cipherErrors: 0, authFailed: 0, replayed: 0, malformed: 0 };

/** The SAs a prepared change installs: made before anything changes, so a refusal changes nothing. */
export interface PreparedSas {
  readonly esp: TunnelEsp | null;
  readonly made: readonly { sa: TunnelEspSa; native: EspSecurityAssociation; outbound: boolean }[];
}

/**
 * A tunnel's ESP security associations in the addon, with one owner: the outbound SA it seals
 * with, the inbound table it opens with, and what their counters already added to the tunnel's.
 * A live update keeps every SA whose SPI and key stay (its sequence number and replay window go
 * on), installs new ones before the old ones leave, and folds a leaving SA's counters in first.
 * Both the JS path and the native fast route use these same SAs (the addon serialises them).
 */
export class TunnelSecurityAssociations {
  #esp: TunnelEsp | null = null;
  #outbound: EspSecurityAssociation | null = null;
  #outboundAt = 0;
  #inbound: EspInbound | null = null;
  readonly #inboundSas = new Map<number, { sa: TunnelEspSa; native: EspSecurityAssociation }>();
  readonly #seen = new Map<EspSecurityAssociation, Seen>();
  #seenUnknownSpi = 0;
  #seenTruncated = 0;
  #rekeyReported: EspSecurityAssociation | null = null;

  constructor(
    private readonly factory: EspFactory | null,
    private readonly name: string,
    /** The tunnel's counters, which SA drops are added to. */
    readonly counters: TunnelCounters,
    private readonly onRekeyDue: (event: RekeyDueEvent) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** True while the spec asks for ESP (whether or not an outbound SA is installed yet). */
  get encrypted(): boolean {
    return this.#esp !== null;
  }

  /** The SA packets are sealed with, or null: then nothing may be sent (`tx:no-sa`). */
  get outbound(): EspSecurityAssociation | null {
    return this.#outbound;
  }

  /** The inbound table, or null for a cleartext tunnel. */
  get inbound(): EspInbound | null {
    return this.#inbound;
  }

  /**
   * Makes the native SAs `esp` adds to the ones running (all that can fail: a key the addon
   * refuses, an I/O without ESP). Nothing changes until commit(); discard() lets them go.
   */
  prepare(esp: TunnelEsp | null): PreparedSas {
    if (esp === null) return { esp, made: [] };
    if (this.factory === null) throw new TunnelError('ERR_INVALID_CONFIG', `tunnel ${this.name}: this datapath has no ESP`);
    const wanted: { sa: TunnelEspSa; outbound: boolean }[] = [];
    if (esp.outbound !== null && !(this.#esp?.aead === esp.aead && this.#esp.rekeySequence === esp.rekeySequence && sameEspSa(this.#esp.outbound, esp.outbound))) {
      wanted.push({ sa: esp.outbound, outbound: true });
    }
    for (const sa of esp.inbound) {
      const running = this.#inboundSas.get(sa.spi);
      if (running === undefined || this.#esp?.aead !== esp.aead || !sameEspSa(running.sa, sa)) wanted.push({ sa, outbound: false });
    }
    const made: { sa: TunnelEspSa; native: EspSecurityAssociation; outbound: boolean }[] = [];
    try {
      for (const { sa, outbound } of wanted) {
        made.push({ sa, outbound, native: this.factory.createEspSa({ spi: sa.spi, aead: esp.aead, key: sa.key.bytes(), rekeySequence: esp.rekeySequence }) });
      }
    } catch (err) {
      for (const m of made) m.native.close();
      throw err;
    }
    return { esp, made };
  }

  /** Lets go of what prepare() made, when the change was refused after it. */
  discard(prepared: PreparedSas): void {
    for (const m of prepared.made) m.native.close();
  }

  /**
   * Installs a prepared change, make-before-break: new inbound SAs join the table first, then the
   * outbound SA switches, then inbound SAs the spec no longer names leave (counters folded in).
   */
  commit(prepared: PreparedSas): void {
    const esp = prepared.esp;
    if (esp === null) {
      this.close();
      return;
    }
    const factory = this.factory as EspFactory;
    this.#inbound ??= factory.createEspInbound();
    for (const m of prepared.made) {
      if (m.outbound) continue;
      const replaced = this.#inboundSas.get(m.sa.spi);
      this.#inbound.add(m.native);
      if (replaced !== undefined) this.#retire(replaced.native);
      this.#inboundSas.set(m.sa.spi, { sa: m.sa, native: m.native });
      this.#seen.set(m.native, NOTHING_SEEN);
    }
    const outbound = prepared.made.find((m) => m.outbound);
    if (outbound !== undefined || esp.outbound === null) {
      const old = this.#outbound;
      this.#outbound = outbound?.native ?? null;
      if (this.#outbound !== null) {
        this.#seen.set(this.#outbound, NOTHING_SEEN);
        this.#outboundAt = this.now();
      }
      if (old !== null) this.#retire(old);
    }
    const keep = new Set(esp.inbound.map((sa) => sa.spi));
    for (const [spi, running] of [...this.#inboundSas]) {
      if (keep.has(spi)) continue;
      this.#inbound.remove(spi);
      this.#inboundSas.delete(spi);
      this.#retire(running.native);
    }
    this.#esp = esp;
  }

  /**
   * Adds what the SAs counted since the last call (in JS or on the fast route) to the tunnel's
   * drops, and reports an outbound SA past its rekey point once.
   */
  absorb(): void {
    const outbound = this.#outbound;
    if (outbound !== null) {
      this.#absorbSa(outbound);
      if (this.#rekeyReported !== outbound && outbound.counters().rekeyDue) {
        this.#rekeyReported = outbound;
        this.onRekeyDue({ name: this.name, spi: outbound.spi, sequence: outbound.counters().lastSequence });
      }
    }
    for (const { native } of this.#inboundSas.values()) this.#absorbSa(native);
    if (this.#inbound !== null) {
      const { unknownSpi, truncated } = this.#inbound.counters();
      if (unknownSpi > this.#seenUnknownSpi) this.counters.rxDrop('no-sa', unknownSpi - this.#seenUnknownSpi);
      if (truncated > this.#seenTruncated) this.counters.rxDrop('truncated', truncated - this.#seenTruncated);
      this.#seenUnknownSpi = unknownSpi;
      this.#seenTruncated = truncated;
    }
  }

  /** What status shows: SPIs, AEAD, the outbound SA's age; never a key. */
  status(): EspStatus {
    const esp = this.#esp;
    if (esp === null) return { encrypted: false, aead: null, spiIn: [], spiOut: null, saAgeSeconds: null };
    return {
      encrypted: true,
      aead: esp.aead,
      spiIn: esp.inbound.map((sa) => sa.spi),
      spiOut: esp.outbound?.spi ?? null,
      saAgeSeconds: this.#outbound === null ? null : Math.max(0, Math.floor((this.now() - this.#outboundAt) / 1000)),
    };
  }

  /** Folds every counter in and lets go of every SA (the tunnel is closing, or turns cleartext). */
  close(): void {
    if (this.#inbound !== null) this.absorb();
    if (this.#outbound !== null) this.#retire(this.#outbound);
    for (const { native } of this.#inboundSas.values()) this.#retire(native);
    this.#inboundSas.clear();
    this.#inbound?.close();
    this.#inbound = null;
    this.#outbound = null;
    this.#esp = null;
    this.#seenUnknownSpi = 0;
    this.#seenTruncated = 0;
  }

  #retire(sa: EspSecurityAssociation): void {
    if (!sa.closed) this.#absorbSa(sa);
    this.#seen.delete(sa);
    sa.close();
  }

  #absorbSa(sa: EspSecurityAssociation): void {
    const seen = this.#seen.get(sa) ?? NOTHING_SEEN;
    const now = sa.counters();
    const add = (field: keyof Seen, direction: 'rx' | 'tx', reason: Parameters<TunnelCounters['rxDrop']>[0]): void => {
      const delta = now[field] - seen[field];
      if (delta <= 0) return;
      if (direction === 'rx') this.counters.rxDrop(reason, delta);
      else this.counters.txDrop(reason, delta);
    };
    add('sealExhausted', 'tx', 'no-sa');
    add('sealNoRoom', 'tx', 'too-big');
    add('cipherErrors', 'tx', 'internal');
    add('authFailed', 'rx', 'auth');
    add('replayed', 'rx', 'replay');
    add('malformed', 'rx', 'esp-malformed');
    this.#seen.set(sa, {
      sealNoRoom: now.sealNoRoom, sealExhausted: now.sealExhausted, cipherErrors: now.cipherErrors,
      authFailed: now.authFailed, replayed: now.replayed, malformed: now.malformed,
    });
  }

  /** Seals slots [0, count) with the outbound SA (which the caller checked is there). */
  seal(batch: PacketBatchMemory, count: number, results: EspSlotResults): number {
    return (this.#outbound as EspSecurityAssociation).seal(batch, count, results);
  }
}
