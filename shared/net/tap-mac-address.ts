import { createHash } from 'node:crypto';
import { TunnelError } from '../errors.js';

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/**
 * A MAC address for a TAP device that is the same every time it is derived from the same seed
 * (e.g. the hub id and the peer's name), so a restart keeps what bridges and neighbours learned:
 * the first six bytes of SHA-256(seed), unicast, with the locally administered bit set (IEEE 802
 * keeps those out of every vendor's range).
 */
export function deriveTapMac(seed: string): string {
  const bytes = createHash('sha256').update(`tunnel-coordinator tap ${seed}`).digest().subarray(0, 6);
  bytes[0] = (bytes[0]! & 0xfe) | 0x02;
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/**
 * Checks a MAC address given for a TAP device (six hex pairs with colons, unicast, not all zero)
 * and returns it lower-cased; ERR_INVALID_ARGUMENT otherwise.
 */
export function parseTapMac(text: string): string {
  const mac = typeof text === 'string' ? text.toLowerCase() : '';
  if (!MAC.test(mac)) throw new TunnelError('ERR_INVALID_ARGUMENT', `MAC address ${JSON.stringify(text)} must be six hex pairs with colons (e.g. 02:00:5e:10:00:01)`);
  if ((parseInt(mac.slice(0, 2), 16) & 1) === 1) throw new TunnelError('ERR_INVALID_ARGUMENT', `MAC address ${mac} is a multicast address`);
  if (mac === '00:00:00:00:00:00') throw new TunnelError('ERR_INVALID_ARGUMENT', 'MAC address 00:00:00:00:00:00 is not usable');
  return mac;
}
