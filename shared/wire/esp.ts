import { read32 } from './big-endian.js';
import { decodeError, isBadWindow, type DecodeError } from './decode-error.js';

/** IP protocol number of ESP (RFC 4303). */
export const IPPROTO_ESP = 50;
/** UDP port of ESP in UDP (RFC 3948 §3), Linux `encap espinudp 4500 4500`. */
export const ESP_IN_UDP_PORT = 4500;
/** SPI and sequence number. */
export const ESP_HEADER_LENGTH = 8;
/** The explicit IV of AES-GCM (RFC 4106) and ChaCha20-Poly1305 (RFC 7634). */
export const ESP_IV_LENGTH = 8;
/** The ICV of both AEADs as Linux uses them (`aead … 128`). */
export const ESP_ICV_LENGTH = 16;

/**
 * The cleartext header of an ESP packet (RFC 4303 §2): what anyone on the path sees. Offsets are
 * absolute into the decoded buffer; the rest is ciphertext and ICV, opened only by the addon.
 */
export interface EspHeader {
  ok: true;
  spi: number;
  /** The low 32 bits of the sequence number (all of it without ESN). */
  sequence: number;
  ivOffset: number;
  /** Where the ciphertext starts (after the 8-byte explicit IV). */
  ciphertextOffset: number;
  /** Ciphertext bytes (payload, padding, pad length, next header), ICV excluded. */
  ciphertextLength: number;
}

/**
 * Decodes the ESP header at [offset, offset+length), the whole ESP packet (an IP payload of
 * protocol 50, or a UDP payload on port 4500). Too short for header, IV, pad length, next header
 * and ICV → 'truncated'; SPI 0 → 'unsupported-protocol' (RFC 3948's non-ESP marker: IKE, not ESP).
 */
export function decodeEspHeader(buf: Uint8Array, offset = 0, length: number = buf.length - offset): EspHeader | DecodeError {
  if (isBadWindow(buf, offset, length)) return decodeError('truncated', 'window outside buffer');
  if (length < ESP_HEADER_LENGTH + ESP_IV_LENGTH + 2 + ESP_ICV_LENGTH) return decodeError('truncated');
  const spi = read32(buf, offset);
  if (spi === 0) return decodeError('unsupported-protocol');
  return {
    ok: true,
    spi,
    sequence: read32(buf, offset + 4),
    ivOffset: offset + ESP_HEADER_LENGTH,
    ciphertextOffset: offset + ESP_HEADER_LENGTH + ESP_IV_LENGTH,
    ciphertextLength: length - ESP_HEADER_LENGTH - ESP_IV_LENGTH - ESP_ICV_LENGTH,
  };
}

/**
 * The length of the ESP packet that carries a `payloadLength`-byte payload: header, IV, payload
 * padded with its pad length and next header to a multiple of 4 (RFC 4303 §2.4), ICV.
 */
export function espPacketLength(payloadLength: number): number {
  return ESP_HEADER_LENGTH + ESP_IV_LENGTH + Math.ceil((payloadLength + 2) / 4) * 4 + ESP_ICV_LENGTH;
}

/** RFC 3948 §2.2: a UDP payload on an ESP-in-UDP port that starts with four zero bytes is not ESP (IKE, or our hellos). */
export const NON_ESP_MARKER_LENGTH = 4;

/** True when the UDP payload at [offset, offset+length) carries the non-ESP marker and something after it. */
export function hasNonEspMarker(buf: Uint8Array, offset: number, length: number): boolean {
  return length > NON_ESP_MARKER_LENGTH && buf[offset] === 0 && buf[offset + 1] === 0 && buf[offset + 2] === 0 && buf[offset + 3] === 0;
}

/** Writes the non-ESP marker at `offset`; returns its length. */
export function writeNonEspMarker(target: Uint8Array, offset: number): number {
  target.fill(0, offset, offset + NON_ESP_MARKER_LENGTH);
  return NON_ESP_MARKER_LENGTH;
}

/** RFC 3948 §2.3: the one-byte NAT-keepalive (0xFF) a NAT'd ESP-in-UDP peer may send; receivers ignore it. */
export function isNatKeepalive(buf: Uint8Array, offset: number, length: number): boolean {
  return length === 1 && buf[offset] === 0xff;
}
