import { networkInterfaces } from 'node:os';

/**
 * Where the front doors (WebSocket, SSH) bind for `--listen`: "all addresses" (0.0.0.0, the
 * default) means both families, one dual-stack socket on `::` that takes IPv4 as IPv4-mapped
 * addresses, when this host has IPv6 at all (any IPv6 address, ::1 included); otherwise IPv4
 * only. A named address is bound as it is.
 */
export function frontDoorHost(listen: string): string {
  if (listen !== '0.0.0.0') return listen;
  const hasIpv6 = Object.values(networkInterfaces()).some((addresses) => (addresses ?? []).some((address) => address.family === 'IPv6'));
  return hasIpv6 ? '::' : '0.0.0.0';
}
