import { isIPv6 } from 'node:net';
import type { Encapsulation } from '../../shared/net/encapsulation.js';
import { deriveTapMac } from '../../shared/net/tap-mac-address.js';
import { tunnelInterfaceName } from '../../shared/net/tunnel-interface-name.js';
import type { EspPath, WireLinkPath, WireLinkTable, WireTunnelEsp, WireTunnelSpec } from '../../shared/protocol/index.js';
import { espCarried, type LinkTable } from '../registry/link-table.js';

/** What the hub knows about one end of a peer<->peer link. */
export interface PeerEndFacts {
  name: string;
  /** The address the hub verified for this end (its control connection or a shell report). */
  seen: string | null;
  /** The address the end claims to have; differs from `seen` behind a NAT. */
  reported: string | null;
  /**
   * Behind a NAT: the address:port its hub link's verified hello came from (the NAT's mapping of
   * its UDP socket), or null/absent when the hub holds none. Read only for shortcuts, which punch
   * through two NATs with it.
   */
  mapped?: { address: string; port: number } | null;
}

/** The hub's choice for a peer<->peer link: an encapsulation, or why the ends cannot meet. */
export interface PeerLinkChoice {
  encap: Encapsulation;
  reason: string;
  reachable: boolean;
  /** On an encrypted link: raw ESP or ESP in UDP. */
  esp?: EspPath;
}

/** True when the end claims another address than the hub sees: a NAT stands in front of it. */
export function behindNat(end: PeerEndFacts): boolean {
  return end.seen !== null && end.reported !== null && end.seen !== end.reported;
}

/**
 * Chooses how two members reach each other. The hub is only the rendezvous, so it can vouch for no
 * probe between them: both public → GRE; one behind a NAT → FOU, which the NATed end opens from
 * the inside (its packets create the mapping the public end answers through); both behind NATs →
 * unreachable (neither can receive first), said so in status rather than left to fail silently.
 * With `punch` (a shortcut, whose keeper re-punches when a mapping moves) and both NATs' mappings
 * known from the ends' hub links, FOU aimed at each other's mapping instead (`hole-punched`):
 * each end's first packets open its own NAT for the other's, as a NAT that keeps a socket's
 * mapping for every destination (endpoint-independent) lets them.
 * A pin (`pinned`, already folded into the table by the registry) keeps its encapsulation. The
 * ends must be seen in one family (each connects to the hub over IPv6 when it can): an IPv6 end
 * and an IPv4-only end have no path between them. An encrypted link (`encrypted`) carries GRE (or
 * the pin's IPIP or gretap) in ESP: raw between two public ends, in UDP when one is behind a NAT
 * or the pin names FOU or GUE.
 */
export function choosePeerLinkPath(pinned: Encapsulation | null, a: PeerEndFacts, b: PeerEndFacts, encrypted = false, punch = false): PeerLinkChoice {
  const choice = chooseCleartextPath(pinned, a, b, punch);
  if (!encrypted) return choice;
  const udp = choice.encap === 'fou' || choice.encap === 'gue' || behindNat(a) || behindNat(b);
  return { ...choice, encap: espCarried(choice.encap), esp: udp ? 'udp' : 'raw' };
}

function chooseCleartextPath(pinned: Encapsulation | null, a: PeerEndFacts, b: PeerEndFacts, punch: boolean): PeerLinkChoice {
  if (a.seen === null || b.seen === null) {
    return { encap: pinned ?? 'gre', reason: 'endpoint-unknown', reachable: false };
  }
  if (isIPv6(a.seen) !== isIPv6(b.seen)) return { encap: pinned ?? 'gre', reason: 'address-families-differ', reachable: false };
  const natA = behindNat(a);
  const natB = behindNat(b);
  if (natA && natB) {
    const udp = pinned === null || pinned === 'fou' || pinned === 'gue';
    if (punch && udp && a.mapped && b.mapped) return { encap: pinned ?? 'fou', reason: 'hole-punched', reachable: true };
    return { encap: pinned ?? 'fou', reason: 'both-ends-behind-nat', reachable: false };
  }
  if (pinned !== null) return { encap: pinned, reason: 'pinned', reachable: true };
  if (natA || natB) return { encap: 'fou', reason: 'nat-detected', reachable: true };
  return { encap: 'gre', reason: 'public', reachable: true };
}

/** One member's end of a peer<->peer link: its tunnel spec (when reachable), its path and table. */
export interface PeerLinkEnd {
  spec: WireTunnelSpec | undefined;
  path: WireLinkPath;
  table: WireLinkTable;
}

/**
 * Builds `me`'s end of a peer<->peer link whose table already carries the chosen encapsulation.
 * The tunnel aims at the other end's verified address only; `local` is what `me` reports (its
 * private address behind a NAT). On a fou/gue link with a `binding` (the per-link key the hub
 * made), the end behind the NAT says authenticated hellos ('member') and the public end binds the
 * NAT's mapping only after one verifies ('hub'), like the hub does for its own links; between two
 * public ends the first end of the link says hello. An encrypted link's end carries `esp` (this
 * end's SAs); ESP in UDP takes the same binding and hellos as FOU.
 */
export function buildPeerLinkEnd(table: LinkTable, me: PeerEndFacts, other: PeerEndFacts, choice: PeerLinkChoice,
  keepaliveInterval: number, binding?: { bindingId: number; key: string }, hubId = '', esp?: WireTunnelEsp): PeerLinkEnd {
  const mine = table.ends[0].name === me.name ? table.ends[0] : table.ends[1];
  const theirs = mine === table.ends[0] ? table.ends[1] : table.ends[0];
  const prefixLength = table.prefix.split('/')[1] ?? '30';
  const tunnel = tunnelInterfaceName(other.name);
  // Over IPv6 the outer header takes 20 bytes more than the table's IPv4 figure counts.
  const ipv6 = other.seen !== null && isIPv6(other.seen);
  const mtu = ipv6 ? table.mtu - 20 : table.mtu;
  const reported = me.reported !== null && isIPv6(me.reported) === ipv6 ? me.reported : null;
  const local = reported ?? me.seen;
  const shown: WireLinkTable = {
    ...table,
    mtu,
    ends: table.ends.map((end) => ({ ...end, public: end.name === me.name ? me.seen : other.seen })) as WireLinkTable['ends'],
  };
  const path: WireLinkPath = { tunnel, encap: table.encap, reason: choice.reason, reachable: choice.reachable };
  if (!choice.reachable || local === null || other.seen === null) return { spec: undefined, path, table: shown };
  const udp = table.encap === 'fou' || table.encap === 'gue' || (esp !== undefined && table.esp === 'udp');
  // The NATed end opens the path; between two public ends (a pinned fou/gue link) the link's first
  // end does, or neither would ever say hello. Through two NATs both ends send from the start, to
  // the mapping the hub verified for the other (no hello: neither end could bind the other first).
  const punched = choice.reason === 'hole-punched' && other.mapped ? other.mapped : null;
  const opens = behindNat(me) || (!behindNat(other) && mine === table.ends[0]);
  const auth = udp && binding && !punched ? { auth: { ...binding, role: opens ? 'member' as const : 'hub' as const }, helloInterval: keepaliveInterval } : {};
  return {
    spec: {
      name: tunnel,
      encap: table.encap,
      ...(table.key !== null ? { key: table.key } : {}),
      mtu,
      local,
      remote: punched?.address ?? other.seen,
      ...(punched ? { remotePort: punched.port } : {}),
      address: `${mine.inner}/${prefixLength}`,
      peerAddress: theirs.inner,
      keepaliveInterval,
      ...auth,
      // A gretap TAP keeps its MAC across restarts: derived from the hub and the two ends' names.
      ...(table.encap === 'gretap' ? { mac: deriveTapMac(`${hubId} ${me.name} to ${other.name}`) } : {}),
      ...(esp ? { esp } : {}),
    },
    path,
    table: shown,
  };
}
