import { isIPv4, isIPv6 } from 'node:net';
import { assertInterfaceName } from '../../native/interface-name.js';
import { TunnelError } from '../errors.js';
import { fromNative } from '../native-boundary.js';
import type { KernelChange, KernelRoute } from './kernel-change.js';

/** Smallest MTU IPv4 allows (RFC 791) and the largest the kernel takes. */
export const MIN_MTU = 68;
export const MAX_MTU = 65535;

const MAX_METRIC = 0xffff_ffff;
const MAX_GROUP = 0xffff_ffff;
/** IFALIASZ less its terminating NUL. */
const MAX_ALIAS_BYTES = 255;
const MAC_ADDRESS = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/** An address with its prefix length, as a change names it. */
export interface KernelCidr {
  readonly address: string;
  readonly prefix: number;
  readonly family: 4 | 6;
}

/**
 * Refuses, before anything is made, a batch with any malformed change: a bad interface name, MTU,
 * MAC, switch state, prefix, peer or metric (ERR_INVALID_ARGUMENT, ERR_INVALID_CIDR,
 * ERR_INVALID_ADDRESS), so every implementation of the seam refuses the same inputs alike.
 */
export function checkKernelChanges(changes: readonly KernelChange[]): void {
  if (!Array.isArray(changes)) throw new TunnelError('ERR_INVALID_ARGUMENT', 'kernel changes must be an array');
  for (const change of changes) checkKernelChange(change);
}

function checkKernelChange(change: KernelChange): void {
  switch (change?.kind) {
    case 'set-mtu':
      checkLink(change.link);
      if (!Number.isInteger(change.mtu) || change.mtu < MIN_MTU || change.mtu > MAX_MTU) {
        throw new TunnelError('ERR_INVALID_ARGUMENT', `MTU must be an integer from ${MIN_MTU} to ${MAX_MTU}, got ${change.mtu}`);
      }
      return;
    case 'set-mac':
      checkLink(change.link);
      if (typeof change.mac !== 'string' || !MAC_ADDRESS.test(change.mac)) {
        throw new TunnelError('ERR_INVALID_ARGUMENT', `MAC address ${JSON.stringify(change.mac)} must be six lower-case hex pairs with colons`);
      }
      return;
    case 'set-up':
      checkLink(change.link);
      if (typeof change.up !== 'boolean') throw new TunnelError('ERR_INVALID_ARGUMENT', `link state of ${change.link} must be up (true) or down (false)`);
      return;
    case 'add-address':
    case 'delete-address':
      checkLink(change.link);
      checkAddress(change.cidr, change.peer);
      return;
    case 'replace-route':
    case 'delete-route':
      checkRoute(change.route);
      return;
    case 'delete-link':
    case 'enable-forwarding':
      checkLink(change.link);
      return;
    case 'mark-link':
      checkLink(change.link);
      checkGroup(change.group);
      if (typeof change.alias !== 'string' || change.alias.length === 0 || Buffer.byteLength(change.alias) > MAX_ALIAS_BYTES || /[\0\n]/.test(change.alias)) {
        throw new TunnelError('ERR_INVALID_ARGUMENT', `link alias ${JSON.stringify(change.alias)} must be 1-${MAX_ALIAS_BYTES} bytes without NUL or newline`);
      }
      return;
    case 'delete-link-group':
      checkGroup(change.group);
      return;
    default:
      throw new TunnelError('ERR_INVALID_ARGUMENT', `unknown kernel change ${JSON.stringify((change as { kind?: unknown } | null)?.kind)}`);
  }
}

/** Refuses a link name prefix that no interface name could start with (ERR_INVALID_ARGUMENT). */
export function checkLinkPrefix(prefix: string): void {
  if (typeof prefix !== 'string' || !/^[A-Za-z0-9_.-]{0,15}$/.test(prefix)) {
    throw new TunnelError('ERR_INVALID_ARGUMENT', `link name prefix ${JSON.stringify(prefix)} must be up to 15 characters from A-Z a-z 0-9 _ . -`);
  }
}

/**
 * Parses `ADDRESS/LENGTH`: a strict dotted quad or an IPv6 address without a zone, and a prefix
 * length its family allows. Throws ERR_INVALID_CIDR.
 */
export function parseKernelCidr(cidr: string): KernelCidr {
  const match = typeof cidr === 'string' ? /^([^/]+)\/(\d{1,3})$/.exec(cidr) : null;
  const address = match?.[1] ?? '';
  const prefix = Number(match?.[2]);
  if (isIPv4(address) && prefix <= 32) return { address, prefix, family: 4 };
  if (isIPv6(address) && !address.includes('%') && prefix <= 128) return { address, prefix, family: 6 };
  throw new TunnelError('ERR_INVALID_CIDR', `${JSON.stringify(cidr)} is not an IPv4 or IPv6 prefix (e.g. 10.1.12.38/30)`);
}

/** A link group other than 0, which holds every interface not put elsewhere (the kernel refuses to delete it). */
function checkGroup(group: number): void {
  if (!Number.isInteger(group) || group < 1 || group > MAX_GROUP) {
    throw new TunnelError('ERR_INVALID_ARGUMENT', `link group must be an integer from 1 to ${MAX_GROUP}, got ${String(group)}`);
  }
}

function checkLink(name: string): void {
  fromNative(() => assertInterfaceName(name));
}

function checkAddress(cidr: string, peer: string | undefined): void {
  const { family } = parseKernelCidr(cidr);
  if (peer === undefined) return;
  if (family === 6) throw new TunnelError('ERR_INVALID_ARGUMENT', 'a peer address is only supported with IPv4');
  if (typeof peer !== 'string' || !isIPv4(peer)) throw new TunnelError('ERR_INVALID_ADDRESS', `peer ${JSON.stringify(peer)} is not an IPv4 address`);
}

function checkRoute(route: KernelRoute): void {
  if (typeof route !== 'object' || route === null) throw new TunnelError('ERR_INVALID_ARGUMENT', 'a route change needs a route');
  const { family } = parseKernelCidr(route.prefix);
  if (route.link !== null) checkLink(route.link);
  if (route.local !== undefined && typeof route.local !== 'boolean') throw new TunnelError('ERR_INVALID_ARGUMENT', `route ${route.prefix}: local must be true or false`);
  if (route.source !== undefined && (typeof route.source !== 'string' || (family === 4 ? !isIPv4(route.source) : !isIPv6(route.source) || route.source.includes('%')))) {
    throw new TunnelError('ERR_INVALID_ADDRESS', `route ${route.prefix}: source ${JSON.stringify(route.source)} is not an IPv${family} address`);
  }
  if (route.link === null && (route.local === true || route.source !== undefined)) {
    throw new TunnelError('ERR_INVALID_ARGUMENT', `unreachable route ${route.prefix}: has no source and is not local`);
  }
  if (!Number.isInteger(route.metric) || route.metric < 0 || route.metric > MAX_METRIC) {
    throw new TunnelError('ERR_INVALID_ARGUMENT', `route metric must be an integer from 0 to ${MAX_METRIC}, got ${String(route.metric)}`);
  }
}
