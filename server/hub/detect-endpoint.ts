import { networkInterfaces } from 'node:os';
import { TunnelError } from '../../shared/errors.js';

/**
 * The public address a first `serve` records when nobody ran `init`: the listen address when it
 * names one, else the first non-loopback IPv4 address of this host.
 */
export function detectEndpoint(listen: string): string {
  if (listen !== '0.0.0.0') return listen;
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) {
      if (address.family === 'IPv4' && !address.internal) return address.address;
    }
  }
  throw new TunnelError('ERR_NOT_INITIALIZED', 'no IPv4 address to use as the hub endpoint; run `tunnel-hub init --endpoint ADDR` first');
}
