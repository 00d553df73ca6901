import { inspect } from 'node:util';
import { TunnelError } from '../errors.js';
import { ESP_IN_UDP_PORT } from '../wire/esp.js';
import type { Encapsulation } from '../net/encapsulation.js';

/**
 * ESP on a tunnel (RFC 4303 transport mode protecting the outer GRE, gretap or IPIP packet, as
 * Linux `ip xfrm … mode transport` with a policy for protocol 47, 4 or 41): the spec option, its
 * validation and the live-update rules. This is the contract the control plane builds on; the
 * packets are sealed and opened by the addon (native/esp.ts), here only SAs are described.
 */

/** The AEADs: AES-GCM (RFC 4106, `rfc4106(gcm(aes))`) and ChaCha20-Poly1305 (RFC 7634, `rfc7539esp(chacha20,poly1305)`). */
export type TunnelEspAead = 'aes-gcm' | 'chacha20-poly1305';

/** Key lengths with the 4-byte salt, per AEAD: what `ip xfrm state … aead NAME 0xKEY 128` takes. */
export const TUNNEL_ESP_KEY_BYTES: Readonly<Record<TunnelEspAead, readonly number[]>> = {
  'aes-gcm': [20, 28, 36],
  'chacha20-poly1305': [36],
};

/** Inbound SAs a tunnel holds at once: the current one, plus the next or previous one during a rekey. */
export const MAX_INBOUND_SAS = 3;

/** Sequence number from which an outbound SA is due for a rekey (onRekeyDue), unless the spec says otherwise: half the space. */
export const DEFAULT_REKEY_SEQUENCE = 0x8000_0000;

/** One SA as the caller gives it: its SPI and the cipher key followed by the 4-byte salt. */
export interface TunnelEspSaInput {
  /** 256..2^32−1 (0 marks non-ESP traffic on UDP 4500, 1-255 are reserved). */
  spi: number;
  /** Key ‖ salt as Linux takes it (TUNNEL_ESP_KEY_BYTES). Copied; never logged or shown. */
  key: Uint8Array;
}

/**
 * `esp` of a tunnel spec: the tunnel is encrypted. Every tunnel packet (data, Cisco keepalives)
 * leaves sealed with `outbound` and only ESP that opens with one of `inbound` is taken; with no
 * outbound SA yet (null) every packet is dropped as `tx:no-sa`, never sent in the clear.
 */
export interface TunnelEspInput {
  aead: TunnelEspAead;
  /** The SA this end seals with (the peer's inbound), or null while none is installed. */
  outbound: TunnelEspSaInput | null;
  /** The SAs this end opens with (0..3: the current one, the next and the previous around a rekey). */
  inbound: readonly TunnelEspSaInput[];
  /**
   * ESP in UDP (RFC 3948) for NAT paths, Linux `encap espinudp LOCAL REMOTE 0.0.0.0`: the ports
   * (default 4500 each). Absent or null: raw ESP, IP protocol 50.
   */
  udp?: { localPort?: number; remotePort?: number } | null;
  /** Sequence number from which onRekeyDue fires for the outbound SA (default 2^31; 1..2^32). */
  rekeySequence?: number;
}

/**
 * An SA key held by the engine. It prints as `[ESP key]` in JSON, logs and inspection; only
 * `bytes()` gives the key, for the addon.
 */
export class TunnelEspKey {
  readonly #bytes: Buffer;

  constructor(bytes: Uint8Array) {
    this.#bytes = Buffer.from(bytes);
  }

  /** The key ‖ salt bytes (the engine's own copy). */
  bytes(): Buffer {
    return this.#bytes;
  }

  /** True when both hold the same bytes (both are the engine's own copies, so timing reveals nothing to a peer). */
  equals(other: TunnelEspKey): boolean {
    return this.#bytes.equals(other.#bytes);
  }

  get length(): number {
    return this.#bytes.length;
  }

  toJSON(): string {
    return '[ESP key]';
  }

  [inspect.custom](): string {
    return '[ESP key]';
  }
}

/** A validated SA. */
export interface TunnelEspSa {
  readonly spi: number;
  readonly key: TunnelEspKey;
}

/** A validated `esp` option. */
export interface TunnelEsp {
  readonly aead: TunnelEspAead;
  readonly outbound: TunnelEspSa | null;
  readonly inbound: readonly TunnelEspSa[];
  /** ESP in UDP ports, or null for raw ESP (protocol 50). */
  readonly udp: { readonly localPort: number; readonly remotePort: number } | null;
  readonly rekeySequence: number;
}

/** The encapsulations ESP protects: their outer packet is GRE (47) or IP in IP (4, 41). */
export const ESP_ENCAPSULATIONS: readonly Encapsulation[] = ['gre', 'gretap', 'ipip'];

/** Checks an `esp` option for a tunnel of `encap`; throws a coded TunnelError that names no key byte. */
export function validateTunnelEsp(input: TunnelEspInput | null | undefined, encap: Encapsulation): TunnelEsp | null {
  if (input === undefined || input === null) return null;
  if (typeof input !== 'object') throw invalid('esp must be { aead, outbound, inbound, udp? }');
  if (!ESP_ENCAPSULATIONS.includes(encap)) {
    throw invalid(`ESP protects gre, gretap or ipip, not ${encap} (for a NAT path use esp.udp, ESP in UDP)`);
  }
  const aead = input.aead;
  if (aead !== 'aes-gcm' && aead !== 'chacha20-poly1305') {
    throw invalid(`esp.aead ${JSON.stringify(aead)} must be 'aes-gcm' or 'chacha20-poly1305'`);
  }
  const outbound = input.outbound === null || input.outbound === undefined ? null : validateSa(input.outbound, aead, 'esp.outbound');
  if (!Array.isArray(input.inbound) || input.inbound.length > MAX_INBOUND_SAS) {
    throw invalid(`esp.inbound must be a list of 0 to ${MAX_INBOUND_SAS} SAs`);
  }
  const inbound = input.inbound.map((sa, i) => validateSa(sa, aead, `esp.inbound[${i}]`));
  const spis = new Set(inbound.map((sa) => sa.spi));
  if (spis.size !== inbound.length) throw invalid('esp.inbound names one SPI twice');
  const udp = input.udp === undefined || input.udp === null ? null : {
    localPort: checkPort('esp.udp.localPort', input.udp.localPort ?? ESP_IN_UDP_PORT),
    remotePort: checkPort('esp.udp.remotePort', input.udp.remotePort ?? ESP_IN_UDP_PORT),
  };
  const rekeySequence = input.rekeySequence ?? DEFAULT_REKEY_SEQUENCE;
  if (!Number.isInteger(rekeySequence) || rekeySequence < 1 || rekeySequence > 2 ** 32) {
    throw invalid(`esp.rekeySequence ${String(rekeySequence)} must be an integer from 1 to 2^32`);
  }
  return { aead, outbound, inbound, udp, rekeySequence };
}

/** True when two SAs are the same SPI and key (so a live update keeps the running SA, its sequence and window). */
export function sameEspSa(a: TunnelEspSa | null, b: TunnelEspSa | null): boolean {
  if (a === null || b === null) return a === b;
  return a.spi === b.spi && a.key.equals(b.key);
}

/** The input form of a validated option (keys as bytes), for carrying it through a live update. */
export function tunnelEspInputOf(esp: TunnelEsp): TunnelEspInput {
  const sa = (s: TunnelEspSa): TunnelEspSaInput => ({ spi: s.spi, key: s.key.bytes() });
  return { aead: esp.aead, outbound: esp.outbound === null ? null : sa(esp.outbound), inbound: esp.inbound.map(sa), udp: esp.udp, rekeySequence: esp.rekeySequence };
}

/** `0x` and 8 hex digits, as `ip xfrm` shows an SPI. */
export function espSpiText(spi: number): string {
  return `0x${spi.toString(16).padStart(8, '0')}`;
}

function validateSa(input: TunnelEspSaInput, aead: TunnelEspAead, what: string): TunnelEspSa {
  if (typeof input !== 'object' || input === null) throw invalid(`${what} must be { spi, key }`);
  const { spi, key } = input;
  if (!Number.isInteger(spi) || spi < 256 || spi > 0xffff_ffff) {
    throw invalid(`${what}.spi must be an integer from 256 to 4294967295, got ${typeof spi === 'number' ? String(spi) : typeof spi}`);
  }
  // The message names the length only, never a byte of the key.
  if (!(key instanceof Uint8Array) || !TUNNEL_ESP_KEY_BYTES[aead].includes(key.length)) {
    const got = key instanceof Uint8Array ? `${key.length} bytes` : 'not bytes';
    throw new TunnelError('ERR_INVALID_KEY', `${what}.key: an ${aead} key with its 4-byte salt is ${TUNNEL_ESP_KEY_BYTES[aead].join(', ')} bytes, got ${got}`);
  }
  return { spi, key: new TunnelEspKey(key) };
}

function checkPort(what: string, port: number): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw invalid(`${what} ${String(port)} is out of range 1..65535`);
  return port;
}

function invalid(message: string): TunnelError {
  return new TunnelError('ERR_INVALID_ARGUMENT', message);
}
