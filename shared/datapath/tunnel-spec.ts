import { TunnelError } from '../errors.js';
import { ENCAPSULATIONS, isEncapsulation, type Encapsulation } from '../net/encapsulation.js';
import { isIpv4Address, parseIpv4Address } from '../net/ipv4-address.js';
import ipaddr from 'ipaddr.js';
import { deriveTapMac, parseTapMac } from '../net/tap-mac-address.js';
import { udpHelloKeyProblem } from '../wire/udp-hello.js';
import { canonicalOuterAddress, outerFamilyOf } from './outer-address.js';
import { SourceFilter } from './source-filter.js';
import { tunnelEspInputOf, validateTunnelEsp, type TunnelEsp, type TunnelEspInput } from './tunnel-esp.js';

/** Default UDP port per UDP encapsulation: 4754 is RFC 8086's GRE-in-UDP port; GUE has none, 6080 by convention. */
export const DEFAULT_UDP_PORT = { fou: 4754, gue: 6080 } as const;

/** Outer TTL when the spec names none: fixed, never copied from the inner packet. */
export const DEFAULT_TTL = 64;

/** Seconds between keepalives when the spec names none (Cisco's default). */
export const DEFAULT_KEEPALIVE_INTERVAL = 10;

/** Missed keepalive intervals before a tunnel is declared down (Cisco's default). */
export const DEFAULT_KEEPALIVE_RETRIES = 3;

/** Seconds between a member's UDP hellos when the spec names none (under the usual 30 s UDP NAT timeout). */
export const DEFAULT_HELLO_INTERVAL = 15;

/** Hello intervals a hub waits without a valid hello before it drops a binding, by default. */
export const BINDING_TIMEOUT_INTERVALS = 3;

/** Which end of an authenticated UDP path this is: the hub verifies and binds, the member says hello. */
export type BindingRole = 'hub' | 'member';

/**
 * Authentication of a fou/gue path (the UDP hello, shared/wire/udp-hello.ts): the binding id and
 * per-session key the hub hands the member over the control channel, and this end's role.
 */
export interface TunnelAuthInput {
  bindingId: number;
  /** The per-session key, 16..64 bytes (the control plane's `welcome.sessionKey` is 32). Never logged. */
  key: Uint8Array;
  role: BindingRole;
}

/** A validated auth option; `key` is the engine's own copy. */
export interface TunnelAuth {
  readonly bindingId: number;
  readonly key: Buffer;
  readonly role: BindingRole;
}

/** Smallest tunnel MTU accepted (the IPv4 minimum datagram every host must take). */
export const MIN_TUNNEL_MTU = 576;

/** Largest tunnel MTU: an inner packet plus headroom must fit one 2048-byte batch slot. */
export const MAX_TUNNEL_MTU = 1984;

/** A tunnel as the caller describes it; optional fields take the documented defaults. */
export interface TunnelSpecInput {
  name: string;
  encap: Encapsulation;
  /** This end's outer address, IPv4 or IPv6 (then the remote is IPv6 too). */
  local: string;
  /**
   * The peer's outer address. With `auth.role` 'hub' it is only a hint (shown in status until a
   * hello binds the real address:port) and may be left out.
   */
  remote?: string;
  /** GRE key (gre and fou only), 0..2^32-1. */
  key?: number;
  /** UDP port for fou/gue, used on both ends unless localPort/remotePort say otherwise. */
  port?: number;
  localPort?: number;
  remotePort?: number;
  /**
   * This end's inner address with its prefix, e.g. 10.1.12.38/30, and the other end's. Both or
   * neither: only gretap runs without them (an L2 port for a bridge, as `ip link add type gretap`).
   */
  address?: string;
  peerAddress?: string;
  /** Tunnel (inner) MTU; default: 1500 minus the encapsulation's overhead. */
  mtu?: number;
  ttl?: number;
  /** Clamp the MSS of TCP SYNs crossing the tunnel to mtu − 40 (not on gretap, which carries frames). */
  mssClamp?: boolean;
  /**
   * gretap only: the TAP device's MAC address; default one derived from the name and the two
   * outer addresses (deriveTapMac), so it is the same on every start.
   */
  mac?: string;
  /** Seconds between keepalives; 0 turns keepalives and liveness tracking off. */
  keepaliveInterval?: number;
  keepaliveRetries?: number;
  /** Authenticated UDP binding (fou and gue only); see shared/datapath/README.md. */
  auth?: TunnelAuthInput | null;
  /** Seconds between a member's hellos (default 15); the hub uses it for its default bindingTimeout. */
  helloInterval?: number;
  /** Seconds without a valid hello after which a hub drops the binding (default 3 × helloInterval). */
  bindingTimeout?: number;
  /**
   * Inner source prefixes (IPv4/IPv6 CIDRs) accepted from the remote; anything else is dropped as
   * `rx:spoofed`. Absent or null: every source is accepted. See source-filter.ts.
   */
  sources?: readonly string[] | null;
  /**
   * ESP (gre, gretap, ipip): every tunnel packet leaves sealed, only ESP that opens is taken, and
   * nothing is ever sent in the clear; see tunnel-esp.ts. Absent or null: cleartext.
   */
  esp?: TunnelEspInput | null;
}

/** A validated tunnel spec with every default filled in. */
export interface TunnelSpec {
  readonly name: string;
  readonly encap: Encapsulation;
  /** Outer addresses, IPv6 in RFC 5952's canonical form. */
  readonly local: string;
  readonly remote: string;
  /** The outer path's IP version: both ends are of one family. */
  readonly outerFamily: 4 | 6;
  /** The GRE key, or null for none. */
  readonly key: number | null;
  /** UDP ports (0 for gre and ipip). */
  readonly localPort: number;
  readonly remotePort: number;
  /** The inner addresses, or null for all three on a gretap tunnel without any. */
  readonly address: string | null;
  readonly prefixLength: number | null;
  readonly peerAddress: string | null;
  /** The MTU asked for, or null to derive it from the encapsulation. */
  readonly mtu: number | null;
  readonly ttl: number;
  readonly mssClamp: boolean;
  /** gretap: the TAP's MAC address; null for the IP encapsulations. */
  readonly mac: string | null;
  readonly keepaliveInterval: number;
  readonly keepaliveRetries: number;
  readonly auth: TunnelAuth | null;
  readonly helloInterval: number;
  readonly bindingTimeout: number;
  /** The inner sources accepted from the remote, or null for any. */
  readonly sources: SourceFilter | null;
  /** The tunnel's SAs, or null for a cleartext tunnel. */
  readonly esp: TunnelEsp | null;
}

/** Fields `engine.update()` may change on a running tunnel without touching its interface. */
export type TunnelUpdate = Partial<Pick<TunnelSpecInput,
  'encap' | 'local' | 'remote' | 'port' | 'localPort' | 'remotePort' | 'mtu' | 'ttl' | 'mssClamp'
  | 'keepaliveInterval' | 'keepaliveRetries' | 'auth' | 'helloInterval' | 'bindingTimeout' | 'sources' | 'esp'>> & {
  /** The GRE key; null removes it. */
  key?: number | null;
};

const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;
const UPDATABLE = new Set(['encap', 'local', 'remote', 'key', 'port', 'localPort', 'remotePort', 'mtu', 'ttl',
  'mssClamp', 'keepaliveInterval', 'keepaliveRetries', 'auth', 'helloInterval', 'bindingTimeout', 'sources', 'esp']);

/** The remote of a hub-role tunnel that was given no hint: nothing is sent there (nothing is sent unbound). */
export const UNKNOWN_REMOTE = '0.0.0.0';

/** The same over an IPv6 outer path. */
export const UNKNOWN_REMOTE6 = '::';

/** The remote placeholder of a hub-role tunnel whose outer path is of `family`. */
export function unknownRemoteOf(family: 4 | 6): string {
  return family === 6 ? UNKNOWN_REMOTE6 : UNKNOWN_REMOTE;
}

/** A validated spec's inner addresses (all null on a gretap port without any). */
type InnerAddresses = Pick<TunnelSpec, 'address' | 'prefixLength' | 'peerAddress'>;

/** Checks every field of `input` and fills in defaults; throws a coded TunnelError on the first bad one. */
export function validateTunnelSpec(input: TunnelSpecInput): TunnelSpec {
  return checkTunnelSpec(input, null, null);
}

/**
 * validateTunnelSpec, given what a running tunnel validated already: its inner addresses (a live
 * update cannot change them) and its source filter when the input's sources are the same prefixes,
 * so a move (only the remote differs) neither parses the addresses again nor rebuilds the filter.
 */
function checkTunnelSpec(input: TunnelSpecInput, knownInner: InnerAddresses | null, knownSources: SourceFilter | null): TunnelSpec {
  const name = input.name;
  if (typeof name !== 'string' || !IFNAME.test(name) || name === '.' || name === '..') {
    throw new TunnelError('ERR_INVALID_ARGUMENT', `interface name ${JSON.stringify(name)} must be 1-15 letters, digits, '_', '.' or '-'`);
  }
  const encap = input.encap;
  if (typeof encap !== 'string' || !isEncapsulation(encap)) {
    throw new TunnelError('ERR_INVALID_ARGUMENT', `unknown encapsulation ${JSON.stringify(encap)} (expected ${ENCAPSULATIONS.join(', ')})`);
  }
  const outerFamily = requireOuterUnicast('local', input.local);
  const local = canonicalOuterAddress(input.local);
  const esp = validateTunnelEsp(input.esp, encap);
  const auth = validateAuth(input.auth, encap, esp);
  const ethernet = encap === 'gretap';
  if (ethernet && input.mssClamp === true) {
    throw new TunnelError('ERR_INVALID_ARGUMENT', 'MSS clamping rewrites TCP inside IP packets; gretap carries Ethernet frames');
  }
  if (!ethernet && input.mac !== undefined) {
    throw new TunnelError('ERR_INVALID_ARGUMENT', `a MAC address only applies to gretap (a TAP device), not ${encap}`);
  }
  const given = input.remote === undefined && auth?.role === 'hub' ? unknownRemoteOf(outerFamily) : input.remote;
  const hint = auth?.role === 'hub' && (given === UNKNOWN_REMOTE || given === UNKNOWN_REMOTE6);
  const remoteFamily = hint ? outerFamilyOf(given as string) : requireOuterUnicast('remote', given as string);
  if (remoteFamily !== outerFamily) {
    throw new TunnelError('ERR_INVALID_ADDRESS', `local ${input.local} is IPv${outerFamily} but remote ${String(given)} is not: both ends of the outer path must be of one family`);
  }
  const remote = canonicalOuterAddress(given as string);
  const key = input.key ?? null;
  if (key !== null) {
    if (encap === 'ipip' || encap === 'gue') {
      throw new TunnelError('ERR_INVALID_ARGUMENT', `--key needs a GRE header: ${encap} carries IP directly (use gre, gretap or fou)`);
    }
    if (!Number.isInteger(key) || key < 0 || key > 0xffff_ffff) {
      throw new TunnelError('ERR_INVALID_ARGUMENT', `key ${String(key)} is out of range 0..4294967295`);
    }
  }
  const udp = encap === 'fou' || encap === 'gue';
  if (!udp && (input.port !== undefined || input.localPort !== undefined || input.remotePort !== undefined)) {
    throw new TunnelError('ERR_INVALID_ARGUMENT', `a UDP port only applies to fou and gue, not ${encap}`);
  }
  const basePort = udp ? checkPort('port', input.port ?? DEFAULT_UDP_PORT[encap]) : 0;
  // ESP in UDP runs on its own ports (esp.udp), which the UDP socket and its demux use.
  const localPort = udp ? checkPort('local port', input.localPort ?? basePort) : esp?.udp?.localPort ?? 0;
  const remotePort = udp ? checkPort('remote port', input.remotePort ?? basePort) : esp?.udp?.remotePort ?? 0;
  const { address, prefixLength, peerAddress } = knownInner ?? validateInnerAddresses(input.address, input.peerAddress, encap);
  const mtu = input.mtu ?? null;
  if (mtu !== null && (!Number.isInteger(mtu) || mtu < MIN_TUNNEL_MTU || mtu > MAX_TUNNEL_MTU)) {
    throw new TunnelError('ERR_INVALID_ARGUMENT', `mtu ${String(mtu)} is out of range ${MIN_TUNNEL_MTU}..${MAX_TUNNEL_MTU}`);
  }
  const ttl = input.ttl ?? DEFAULT_TTL;
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > 255) {
    throw new TunnelError('ERR_INVALID_ARGUMENT', `ttl ${String(ttl)} is out of range 1..255`);
  }
  const keepaliveInterval = input.keepaliveInterval ?? DEFAULT_KEEPALIVE_INTERVAL;
  if (!Number.isFinite(keepaliveInterval) || keepaliveInterval < 0 || keepaliveInterval > 3600) {
    throw new TunnelError('ERR_INVALID_ARGUMENT', `keepalive interval ${String(keepaliveInterval)} s is out of range 0..3600`);
  }
  const keepaliveRetries = input.keepaliveRetries ?? DEFAULT_KEEPALIVE_RETRIES;
  if (!Number.isInteger(keepaliveRetries) || keepaliveRetries < 1 || keepaliveRetries > 255) {
    throw new TunnelError('ERR_INVALID_ARGUMENT', `keepalive retries ${String(keepaliveRetries)} is out of range 1..255`);
  }
  const helloInterval = input.helloInterval ?? DEFAULT_HELLO_INTERVAL;
  if (!Number.isFinite(helloInterval) || helloInterval < 0.05 || helloInterval > 3600) {
    throw new TunnelError('ERR_INVALID_ARGUMENT', `hello interval ${String(helloInterval)} s is out of range 0.05..3600`);
  }
  const bindingTimeout = input.bindingTimeout ?? BINDING_TIMEOUT_INTERVALS * helloInterval;
  if (!Number.isFinite(bindingTimeout) || bindingTimeout <= helloInterval || bindingTimeout > 86_400) {
    throw new TunnelError('ERR_INVALID_ARGUMENT', `binding timeout ${String(bindingTimeout)} s must exceed the hello interval (${helloInterval} s) and be at most 86400`);
  }
  const sources = input.sources === undefined || input.sources === null ? null : knownSources ?? new SourceFilter(input.sources);
  return {
    name, encap, local, remote, outerFamily, key, localPort, remotePort, address, prefixLength,
    peerAddress, mtu, ttl, mssClamp: input.mssClamp === true, keepaliveInterval, keepaliveRetries,
    mac: ethernet ? (input.mac !== undefined ? parseTapMac(input.mac) : deriveTapMac(`${name} ${local} ${remote}`)) : null,
    auth, helloInterval, bindingTimeout, sources, esp,
  };
}

/** True when two validated auth options are the same binding, key and role. */
export function sameAuth(a: TunnelAuth | null, b: TunnelAuth | null): boolean {
  if (a === null || b === null) return a === b;
  return a.bindingId === b.bindingId && a.role === b.role && a.key.equals(b.key);
}

function validateAuth(input: TunnelAuthInput | null | undefined, encap: Encapsulation, esp: TunnelEsp | null): TunnelAuth | null {
  if (input === undefined || input === null) return null;
  if (typeof input !== 'object') throw new TunnelError('ERR_INVALID_ARGUMENT', 'auth must be { bindingId, key, role }');
  if (encap !== 'fou' && encap !== 'gue' && esp?.udp == null) {
    throw new TunnelError('ERR_INVALID_ARGUMENT', `an authenticated UDP binding needs fou or gue (or ESP in UDP, esp.udp), not ${encap}${esp === null ? '' : ' over raw ESP'}`);
  }
  if (input.role !== 'hub' && input.role !== 'member') {
    throw new TunnelError('ERR_INVALID_ARGUMENT', `auth role ${JSON.stringify(input.role)} must be 'hub' or 'member'`);
  }
  if (!Number.isInteger(input.bindingId) || input.bindingId < 0 || input.bindingId > 0xffff_ffff) {
    throw new TunnelError('ERR_INVALID_ARGUMENT', `binding id ${String(input.bindingId)} is out of range 0..4294967295`);
  }
  const keyProblem = udpHelloKeyProblem(input.key);
  // The message names the length only, never a byte of the key.
  if (keyProblem !== null) throw new TunnelError('ERR_INVALID_KEY', keyProblem);
  return { bindingId: input.bindingId, key: Buffer.from(input.key), role: input.role };
}

/**
 * The spec after a live update: fields absent from `update` keep their value, except that a
 * change of encapsulation re-derives the ports (and drops a key the new encapsulation cannot carry
 * unless a key is given). Throws ERR_INVALID_ARGUMENT on an unknown field or a bad value.
 */
export function applyTunnelUpdate(spec: TunnelSpec, update: TunnelUpdate): TunnelSpec {
  for (const field of Object.keys(update)) {
    if (!UPDATABLE.has(field)) {
      throw new TunnelError('ERR_INVALID_ARGUMENT', `field "${field}" cannot be changed on a running tunnel`);
    }
  }
  const encap = update.encap ?? spec.encap;
  const encapChanged = encap !== spec.encap;
  if ((encap === 'gretap') !== (spec.encap === 'gretap')) {
    throw new TunnelError('ERR_INVALID_ARGUMENT', `changing ${spec.encap} to ${encap} needs another kind of device (gretap runs on a TAP, the others on a TUN): remove the tunnel and add it again`);
  }
  const keyCarried = encap === 'gre' || encap === 'fou' || encap === 'gretap';
  const key = update.key !== undefined ? update.key : keyCarried ? spec.key : null;
  const udp = encap === 'fou' || encap === 'gue';
  const keepPorts = udp && !encapChanged;
  const input: TunnelSpecInput = {
    name: spec.name,
    encap,
    local: update.local ?? spec.local,
    remote: update.remote ?? spec.remote,
    ...(key !== null ? { key } : {}),
    ...(udp ? {
      port: update.port,
      localPort: update.localPort ?? (update.port === undefined && keepPorts ? spec.localPort : undefined),
      remotePort: update.remotePort ?? (update.port === undefined && keepPorts ? spec.remotePort : undefined),
    } : {}),
    ...(update.mtu !== undefined ? { mtu: update.mtu } : spec.mtu !== null ? { mtu: spec.mtu } : {}),
    ttl: update.ttl ?? spec.ttl,
    mssClamp: update.mssClamp ?? spec.mssClamp,
    ...(spec.mac !== null ? { mac: spec.mac } : {}),
    keepaliveInterval: update.keepaliveInterval ?? spec.keepaliveInterval,
    keepaliveRetries: update.keepaliveRetries ?? spec.keepaliveRetries,
    auth: update.auth !== undefined ? update.auth : spec.auth,
    helloInterval: update.helloInterval ?? spec.helloInterval,
    ...(update.bindingTimeout !== undefined ? { bindingTimeout: update.bindingTimeout }
      : update.helloInterval === undefined ? { bindingTimeout: spec.bindingTimeout } : {}),
    sources: update.sources !== undefined ? update.sources : spec.sources?.prefixes ?? null,
    esp: update.esp !== undefined ? update.esp : spec.esp === null ? null : tunnelEspInputOf(spec.esp),
  };
  if (!udp) {
    for (const f of ['port', 'localPort', 'remotePort'] as const) {
      if (update[f] !== undefined) throw new TunnelError('ERR_INVALID_ARGUMENT', `a UDP port only applies to fou and gue, not ${encap}`);
    }
  }
  const sameSources = update.sources === undefined || (spec.sources !== null && samePrefixes(spec.sources.prefixes, update.sources));
  return checkTunnelSpec(input, { address: spec.address, prefixLength: spec.prefixLength, peerAddress: spec.peerAddress }, sameSources ? spec.sources : null);
}

/** True when `given` are exactly the canonical `prefixes`, in order (a filter made from them would be the same). */
function samePrefixes(prefixes: readonly string[], given: readonly string[] | null): boolean {
  if (!Array.isArray(given) || given.length !== prefixes.length) return false;
  for (let i = 0; i < prefixes.length; i++) if (given[i] !== prefixes[i]) return false;
  return true;
}

/**
 * The inner addresses: both given and valid, or (gretap only) both absent, for a TAP that carries
 * frames for a bridge and holds no address of its own.
 */
function validateInnerAddresses(addressText: string | undefined, peerText: string | undefined, encap: Encapsulation):
  { address: string | null; prefixLength: number | null; peerAddress: string | null } {
  if (addressText === undefined && peerText === undefined) {
    if (encap === 'gretap') return { address: null, prefixLength: null, peerAddress: null };
    throw new TunnelError('ERR_INVALID_ARGUMENT', `${encap} needs --address and --peer-address (only gretap, an L2 port for a bridge, runs without)`);
  }
  if (addressText === undefined || peerText === undefined) {
    throw new TunnelError('ERR_INVALID_ARGUMENT', `--address and --peer-address go together: ${addressText === undefined ? '--address' : '--peer-address'} is missing${encap === 'gretap' ? ' (or leave out both, for an L2 port)' : ''}`);
  }
  const { address, prefixLength } = parseInterfaceAddress(addressText);
  requireUnicast('peer address', peerText);
  if (peerText === address) {
    throw new TunnelError('ERR_INVALID_ADDRESS', `peer address ${peerText} is this end's own address`);
  }
  return { address, prefixLength, peerAddress: peerText };
}

/** Parses `A.B.C.D/N` where host bits are expected (an interface address, not a network). */
export function parseInterfaceAddress(text: string): { address: string; prefixLength: number } {
  const match = typeof text === 'string' ? /^([0-9.]+)\/([0-9]{1,2})$/.exec(text) : null;
  const prefixLength = match ? Number(match[2]) : NaN;
  if (!match || !isIpv4Address(match[1] ?? '') || !(prefixLength >= 1 && prefixLength <= 32)) {
    throw new TunnelError('ERR_INVALID_CIDR', `${JSON.stringify(text)} is not an IPv4 address with a prefix length (e.g. 10.1.12.38/30)`);
  }
  const address = match[1]!;
  const n = parseIpv4Address(address);
  if (prefixLength <= 30) {
    const hostMask = (2 ** (32 - prefixLength)) - 1;
    const host = n % (hostMask + 1);
    if (host === 0 || host === hostMask) {
      throw new TunnelError('ERR_INVALID_CIDR', `${text} is the network or broadcast address of its prefix, not a usable interface address`);
    }
  }
  return { address, prefixLength };
}

/**
 * Checks an outer address: a unicast IPv4 address, or a global-scope IPv6 one (not unspecified,
 * loopback, multicast, link-local, which needs an interface, or IPv4-mapped, which is the IPv4
 * address). Returns its family.
 */
function requireOuterUnicast(what: string, text: string): 4 | 6 {
  const family = outerFamilyOf(text);
  if (family === 4) {
    requireUnicast(what, text);
    return 4;
  }
  if (family === null) {
    throw new TunnelError('ERR_INVALID_ADDRESS', `${what} ${JSON.stringify(text)} is not an IPv4 or IPv6 address (e.g. 192.0.2.1 or 2001:db8::1)`);
  }
  const range = ipaddr.IPv6.parse(text).range();
  if (['unspecified', 'loopback', 'linkLocal', 'multicast', 'ipv4Mapped'].includes(range)) {
    throw new TunnelError('ERR_INVALID_ADDRESS', `${what} ${text} is not a global unicast IPv6 address (${range})`);
  }
  return 6;
}

function requireUnicast(what: string, text: string): void {
  if (typeof text !== 'string' || !isIpv4Address(text)) {
    throw new TunnelError('ERR_INVALID_ADDRESS', `${what} ${JSON.stringify(text)} is not an IPv4 address (e.g. 192.0.2.1)`);
  }
  const n = parseIpv4Address(text);
  const first = n >>> 24;
  if (n === 0 || first === 0 || first >= 224 || first === 127) {
    throw new TunnelError('ERR_INVALID_ADDRESS', `${what} ${text} is not a unicast address`);
  }
}

function checkPort(what: string, port: number): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new TunnelError('ERR_INVALID_ARGUMENT', `${what} ${String(port)} is out of range 1..65535`);
  }
  return port;
}
