/**
 * Interface configuration through rtnetlink, in batches, off the event loop: the addon sends many
 * requests per sendmsg on a NETLINK_ROUTE socket of the batch's own, each with NLM_F_ACK, and
 * collects one acknowledgement per request (native/src/rtnetlink-*.cc). The kernel handles each
 * request in order and goes on after a refusal, so every request gets its own outcome, with the
 * errno and the kernel's extended ack message in a coded NativeError. IPv6's forwarding switch,
 * which netlink cannot set, is a /proc/sys write made in its place in the batch.
 */
import ipaddr from 'ipaddr.js';
import type { NativeRtnetlinkRequest } from './addon-binding.js';
import { loadAddon } from './addon-loader.js';
import { assertInterfaceName } from './interface-name.js';
import { NativeError } from './native-error.js';
import { codeOfErrno, rtnetlinkError } from './rtnetlink-error.js';

/**
 * A route's destination: `link` null makes it an `unreachable` route (the kernel answers ICMP
 * unreachable). `local`: a route of type local in table local, so the host takes the prefix's
 * packets as its own (what an address adds, without the address). `source`: the source address
 * of packets the host sends by the route (RTA_PREFSRC; for IPv4 one the host holds, by an address
 * or a local route; for IPv6 an address on an interface). Neither on an unreachable route.
 */
interface RouteTarget {
  readonly destination: string;
  readonly prefixLength: number;
  readonly link: string | null;
  readonly metric: number;
  readonly local?: boolean;
  readonly source?: string;
}

/** One request of a batch. Addresses are IPv4 dotted quads or IPv6 addresses. */
export type RtnetlinkRequest =
  | { readonly op: 'set-mtu'; readonly link: string; readonly mtu: number }
  | { readonly op: 'set-mac'; readonly link: string; readonly mac: string }
  | { readonly op: 'set-up'; readonly link: string; readonly up: boolean }
  /**
   * Adds an address, replacing one that is there (or, `exclusive`, refusing with
   * ERR_ALREADY_EXISTS). IPv4 with `peer`: the prefix belongs to the peer (point-to-point).
   * `nodad`: an IPv6 address usable at once, without duplicate address detection.
   */
  | {
    readonly op: 'add-address'; readonly link: string; readonly address: string; readonly prefixLength: number;
    readonly peer?: string; readonly nodad?: boolean; readonly exclusive?: boolean;
  }
  /** Removes an address added as above (same address, prefix length and peer). */
  | { readonly op: 'delete-address'; readonly link: string; readonly address: string; readonly prefixLength: number; readonly peer?: string }
  /** Installs a route in the main table, or a local one in table local (replacing one of the same prefix and metric unless `exclusive`). */
  | ({ readonly op: 'replace-route'; readonly exclusive?: boolean } & RouteTarget)
  | ({ readonly op: 'delete-route' } & RouteTarget)
  | { readonly op: 'delete-link'; readonly link: string }
  /** The interface's IPv4 forwarding switch (net.ipv4.conf.IF.forwarding). */
  | { readonly op: 'set-ipv4-forwarding'; readonly link: string; readonly on: boolean }
  /**
   * The interface's IPv6 switch (net.ipv6.conf.IF.force_forwarding, Linux 6.17+): rtnetlink has no
   * setter for it, so the batch writes /proc/sys in its place, on the batch's thread.
   */
  | { readonly op: 'set-ipv6-forwarding'; readonly link: string; readonly on: boolean }
  /** Puts the interface in link group `group` (1-2^32-1) with alias `alias` (IFLA_IFALIAS): whose device it is. */
  | { readonly op: 'mark-link'; readonly link: string; readonly group: number; readonly alias: string }
  /**
   * Deletes every interface of link group `group` in one request: one unregister_netdevice_many,
   * one RCU grace period for all (ERR_DEVICE_NOT_FOUND when the group is empty).
   */
  | { readonly op: 'delete-link-group'; readonly group: number };

/** What became of one request: done, or refused with a coded NativeError naming the operation and interface. */
export type RtnetlinkOutcome = { readonly ok: true } | { readonly ok: false; readonly error: NativeError };

/** A link found by listRtnetlinkLinks. */
export interface RtnetlinkLink {
  readonly name: string;
  readonly index: number;
  /** Its link group (0: the default group). */
  readonly group: number;
  /** Its alias (IFLA_IFALIAS), or null for none. */
  readonly alias: string | null;
}

const MAX_U32 = 0xffff_ffff;
/** IFALIASZ less its terminating NUL. */
const MAX_ALIAS_BYTES = 255;
const ENOENT = 2;
const MAC_ADDRESS = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;

/**
 * Runs the requests as one batch on the libuv thread pool; the event loop runs on meanwhile.
 * Resolves with one outcome per request. Throws (synchronously) ERR_INVALID_ARGUMENT or
 * ERR_INVALID_ADDRESS for a malformed request, before anything is sent; rejects when the batch
 * cannot run at all (no socket: ERR_RESOURCE_LIMIT for a descriptor limit).
 */
export function runRtnetlinkBatch(requests: readonly RtnetlinkRequest[]): Promise<RtnetlinkOutcome[]> {
  const native = requests.map(toNative);
  return loadAddon().addon.rtnetlinkBatch(native).then(
    (results) => outcomesOf(requests, results),
    (err: unknown) => { throw batchError(err); },
  );
}

/** Every link whose name starts with `prefix` (e.g. "tnl-", to find devices a crashed process left). */
export async function listRtnetlinkLinks(prefix: string): Promise<RtnetlinkLink[]> {
  if (typeof prefix !== 'string' || prefix.length > 15) {
    throw new NativeError('ERR_INVALID_ARGUMENT', `link name prefix ${JSON.stringify(prefix)} must be a string of at most 15 characters`);
  }
  try {
    const links = await loadAddon().addon.rtnetlinkListLinks(prefix);
    return links.map(([name, index, group, alias]) => ({ name, index, group, alias: alias === '' ? null : alias }));
  } catch (err) {
    throw batchError(err, 'listing links');
  }
}

/** The phrase that names a request in its error: "setting the MTU of tnl-x to 1400". */
function describeRtnetlinkRequest(request: RtnetlinkRequest): string {
  switch (request.op) {
    case 'set-mtu':
      return `setting the MTU of ${request.link} to ${request.mtu}`;
    case 'set-mac':
      return `setting the MAC address of ${request.link} to ${request.mac}`;
    case 'set-up':
      return `bringing ${request.link} ${request.up ? 'up' : 'down'}`;
    case 'add-address':
      return request.peer === undefined
        ? `adding address ${request.address}/${request.prefixLength} to ${request.link}`
        : `adding address ${request.address} peer ${request.peer}/${request.prefixLength} to ${request.link}`;
    case 'delete-address':
      return request.peer === undefined
        ? `removing address ${request.address}/${request.prefixLength} from ${request.link}`
        : `removing address ${request.address} peer ${request.peer}/${request.prefixLength} from ${request.link}`;
    case 'replace-route':
    case 'delete-route': {
      const verb = request.op === 'replace-route' ? 'adding' : 'deleting';
      const route = `${request.destination}/${request.prefixLength} metric ${request.metric}`;
      if (request.link === null) return `${verb} unreachable route ${route}`;
      const source = request.source === undefined ? '' : ` src ${request.source}`;
      return `${verb} ${request.local === true ? 'local ' : ''}route ${route} via ${request.link}${source}`;
    }
    case 'delete-link':
      return `deleting interface ${request.link}`;
    case 'mark-link':
      return `putting ${request.link} in link group ${request.group} with alias ${JSON.stringify(request.alias)}`;
    case 'delete-link-group':
      return `deleting the interfaces of link group ${request.group}`;
    case 'set-ipv4-forwarding':
    case 'set-ipv6-forwarding':
      return `turning IPv${request.op === 'set-ipv4-forwarding' ? 4 : 6} forwarding ${request.on ? 'on' : 'off'} for ${request.link}`;
  }
}

function outcomesOf(requests: readonly RtnetlinkRequest[], results: [number, string, string][]): RtnetlinkOutcome[] {
  return results.map(([errno, text, reason], i) => {
    if (errno === 0) return { ok: true };
    const request = requests[i]!;
    // No /proc/sys/net/ipv6/conf/IF: the interface is not there.
    const code = request.op === 'set-ipv6-forwarding' && errno === ENOENT ? 'ERR_DEVICE_NOT_FOUND' : codeOfErrno(errno);
    const link = 'link' in request && request.link !== null ? request.link : undefined;
    return { ok: false, error: rtnetlinkError(errno, text, describeRtnetlinkRequest(request), link, reason, code) };
  });
}

/** A batch that could not run: its errno as a code (a descriptor limit is ERR_RESOURCE_LIMIT), else an argument error. */
function batchError(err: unknown, action = 'rtnetlink batch'): NativeError {
  const fields = (typeof err === 'object' && err !== null ? err : {}) as { errno?: unknown; message?: unknown };
  if (typeof fields.errno === 'number') {
    const errno = fields.errno;
    const code = codeOfErrno(errno);
    const text = typeof fields.message === 'string' ? fields.message : `errno ${errno}`;
    return new NativeError(code, code === 'ERR_PERMISSION' ? `${action}: needs root or CAP_NET_ADMIN (${text})` : `${action}: ${text}`, { errno, cause: err });
  }
  if (err instanceof TypeError) return new NativeError('ERR_INVALID_ARGUMENT', `${action}: ${err.message}`, { cause: err });
  return new NativeError('ERR_SYSTEM', `${action}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}

function toNative(request: RtnetlinkRequest): NativeRtnetlinkRequest {
  switch (request?.op) {
    case 'set-mtu':
      assertInterfaceName(request.link);
      return { op: request.op, link: request.link, value: unsigned(request.mtu, 'MTU') };
    case 'set-mac':
      assertInterfaceName(request.link);
      if (typeof request.mac !== 'string' || !MAC_ADDRESS.test(request.mac)) {
        throw new NativeError('ERR_INVALID_ARGUMENT', `MAC address ${JSON.stringify(request.mac)} must be six hex pairs with colons`);
      }
      return { op: request.op, link: request.link, address: Uint8Array.from(request.mac.split(':').map((pair) => parseInt(pair, 16))) };
    case 'set-up':
      assertInterfaceName(request.link);
      return { op: request.op, link: request.link, value: flag(request.up, 'up') };
    case 'set-ipv4-forwarding':
    case 'set-ipv6-forwarding':
      assertInterfaceName(request.link);
      return { op: request.op, link: request.link, value: flag(request.on, 'on') };
    case 'delete-link':
      assertInterfaceName(request.link);
      return { op: request.op, link: request.link };
    case 'mark-link':
      assertInterfaceName(request.link);
      if (typeof request.alias !== 'string' || request.alias.length === 0 || Buffer.byteLength(request.alias) > MAX_ALIAS_BYTES) {
        throw new NativeError('ERR_INVALID_ARGUMENT', `link alias ${JSON.stringify(request.alias)} must be 1-${MAX_ALIAS_BYTES} bytes`);
      }
      return { op: request.op, link: request.link, value: linkGroup(request.group), alias: request.alias };
    case 'delete-link-group':
      return { op: request.op, link: '', value: linkGroup(request.group) };
    case 'add-address':
    case 'delete-address': {
      assertInterfaceName(request.link);
      const { family, bytes } = addressBytes(request.address);
      const peer = request.peer === undefined ? undefined : addressBytes(request.peer);
      if (peer !== undefined && (family !== 4 || peer.family !== 4)) {
        throw new NativeError('ERR_INVALID_ARGUMENT', `a peer address is only supported with IPv4 (${request.address} peer ${request.peer})`);
      }
      const adding = request.op === 'add-address' ? { nodad: request.nodad === true, exclusive: request.exclusive === true } : {};
      return {
        op: request.op, link: request.link, family, address: bytes, prefixLength: prefixLength(request.prefixLength, family),
        ...(peer === undefined ? {} : { peer: peer.bytes }), ...adding,
      };
    }
    case 'replace-route':
    case 'delete-route': {
      if (request.link !== null) assertInterfaceName(request.link);
      const { family, bytes } = addressBytes(request.destination);
      const local = request.local === undefined ? false : flag(request.local, 'local') === 1;
      const source = request.source === undefined ? undefined : addressBytes(request.source);
      if (request.link === null && (local || source !== undefined)) {
        throw new NativeError('ERR_INVALID_ARGUMENT', `an unreachable route (${request.destination}/${request.prefixLength}) has no source and is not local`);
      }
      if (source !== undefined && source.family !== family) {
        throw new NativeError('ERR_INVALID_ADDRESS', `route source ${request.source} is not of the family of ${request.destination}`);
      }
      return {
        op: request.op, link: request.link ?? '', family, address: bytes, prefixLength: prefixLength(request.prefixLength, family),
        value: unsigned(request.metric, 'route metric'), unreachable: request.link === null,
        exclusive: request.op === 'replace-route' && request.exclusive === true,
        ...(local ? { local } : {}), ...(source === undefined ? {} : { source: source.bytes }),
      };
    }
    default:
      throw new NativeError('ERR_INVALID_ARGUMENT', `unknown rtnetlink request ${JSON.stringify((request as { op?: unknown } | null)?.op)}`);
  }
}

function addressBytes(text: string): { family: 4 | 6; bytes: Uint8Array } {
  if (typeof text === 'string' && ipaddr.IPv4.isValidFourPartDecimal(text)) return { family: 4, bytes: Uint8Array.from(ipaddr.IPv4.parse(text).toByteArray()) };
  if (typeof text === 'string' && !text.includes('%') && ipaddr.IPv6.isValid(text)) return { family: 6, bytes: Uint8Array.from(ipaddr.IPv6.parse(text).toByteArray()) };
  throw new NativeError('ERR_INVALID_ADDRESS', `${JSON.stringify(text)} is not an IPv4 or IPv6 address`);
}

function prefixLength(value: number, family: 4 | 6): number {
  const max = family === 4 ? 32 : 128;
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new NativeError('ERR_INVALID_ARGUMENT', `prefix length must be an integer from 0 to ${max}, got ${String(value)}`);
  }
  return value;
}

function unsigned(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > MAX_U32) {
    throw new NativeError('ERR_INVALID_ARGUMENT', `${what} must be an integer from 0 to ${MAX_U32}, got ${String(value)}`);
  }
  return value;
}

/** A link group other than 0, the default group every interface starts in (the kernel refuses to delete it). */
function linkGroup(value: number): number {
  if (!Number.isInteger(value) || value < 1 || value > MAX_U32) {
    throw new NativeError('ERR_INVALID_ARGUMENT', `link group must be an integer from 1 to ${MAX_U32}, got ${String(value)}`);
  }
  return value;
}

function flag(value: boolean, what: string): number {
  if (typeof value !== 'boolean') throw new NativeError('ERR_INVALID_ARGUMENT', `${what} must be true or false`);
  return value ? 1 : 0;
}
