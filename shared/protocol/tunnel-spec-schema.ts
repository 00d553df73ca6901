import { z } from 'zod';
import { ENCAPSULATIONS } from '../net/encapsulation.js';
import { ipPrefixSchema } from './ip-prefix-schema.js';
import { ipv4AddressSchema, ipv4CidrSchema } from './ipv4-address-schema.js';
import { outerAddressSchema } from './outer-address-schema.js';
import { MAX_TUNNEL_ROUTES } from './route-limits.js';

/** Linux interface names are at most 15 bytes; the datapath names its TUN after the tunnel. */
const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;

/** How an encrypted link carries its ESP: raw (IP protocol 50) on public paths, in UDP (RFC 3948) through NATs. */
export const ESP_PATHS = ['raw', 'udp'] as const;

/** One of {@link ESP_PATHS}. */
export type EspPath = (typeof ESP_PATHS)[number];

/** The AEADs of an encrypted link (the names of native/esp.ts). */
export const ESP_AEADS = ['aes-gcm', 'chacha20-poly1305'] as const;

/**
 * One SA on the wire: its SPI and its key followed by the 4-byte salt as Linux takes it (20, 28 or
 * 36 bytes), base64url. It travels only in `config` messages over wss:// or SSH; the registry
 * stores specs with the key replaced by a digest (server/control/redact-binding-keys.ts).
 */
export const espSaSchema = z.strictObject({
  spi: z.number().int().min(256).max(0xffff_ffff),
  key: z.string().regex(/^[A-Za-z0-9_-]{27,48}$/, 'expected 20-36 bytes of base64url'),
});

/**
 * ESP on a tunnel: every tunnel packet leaves sealed with `outbound` (none: nothing leaves), only
 * ESP that opens with one of `inbound` is taken (the current SA, and the next or previous one
 * around a rekey), raw (IP protocol 50) or in UDP (RFC 3948) with `udp`.
 */
export const tunnelEspSchema = z.strictObject({
  aead: z.enum(ESP_AEADS),
  outbound: espSaSchema.nullable(),
  inbound: z.array(espSaSchema).max(3),
  udp: z.strictObject({
    localPort: z.number().int().min(1).max(65535).optional(),
    remotePort: z.number().int().min(1).max(65535).optional(),
  }).nullable().optional(),
});

/** ESP on a tunnel as carried on the wire. */
export type WireTunnelEsp = z.infer<typeof tunnelEspSchema>;

/** One end of a tunnel as the datapath engine takes it, carried in `config` messages. */
export const tunnelSpecSchema = z.strictObject({
  name: z.string().regex(IFNAME, 'expected an interface name of 1-15 characters'),
  encap: z.enum(ENCAPSULATIONS),
  /** Outer addresses, both IPv4 or both IPv6. */
  local: outerAddressSchema,
  remote: outerAddressSchema,
  key: z.number().int().min(0).max(0xffff_ffff).optional(),
  port: z.number().int().min(1).max(65535).optional(),
  localPort: z.number().int().min(0).max(65535).optional(),
  remotePort: z.number().int().min(1).max(65535).optional(),
  address: ipv4CidrSchema,
  peerAddress: ipv4AddressSchema,
  mtu: z.number().int().min(576).max(9000).optional(),
  ttl: z.number().int().min(1).max(255).optional(),
  /** Seconds between path keepalives (they also keep a NAT's mapping alive); 0 turns them off. */
  keepaliveInterval: z.number().int().min(0).max(3600).optional(),
  /**
   * Authenticated UDP binding of a fou/gue path: the hub end ('hub') binds the member's NAT mapping
   * only after a hello carrying an HMAC with `key` (the session key, or a per-link key of a
   * peer<->peer link); the member end ('member') sends those hellos.
   */
  auth: z.strictObject({
    bindingId: z.number().int().min(1).max(0xffff_ffff),
    key: z.string().regex(/^[A-Za-z0-9_-]{22,86}$/, 'expected 16-64 bytes of base64url'),
    role: z.enum(['hub', 'member']),
  }).optional(),
  /** Seconds between a member end's hellos (they keep the NAT mapping and the binding alive). */
  helloInterval: z.number().min(0.05).max(3600).optional(),
  /** Inner sources accepted from the remote (a hub end's BCP 38 filter); absent: any. */
  sources: z.array(ipPrefixSchema).max(4096).optional(),
  /** gretap: the TAP's MAC address, the same on every start (derived from the hub id and the names). */
  mac: z.string().regex(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/, 'expected a MAC address such as 02:00:5e:10:00:01').optional(),
  /** Prefixes this end routes through the tunnel (installed on its interface), at `routeMetric`. */
  routes: z.array(ipPrefixSchema).max(MAX_TUNNEL_ROUTES).optional(),
  routeMetric: z.number().int().min(0).max(0xffff_ffff).optional(),
  /** Encrypted: ESP around every tunnel packet (gre, gretap, ipip). */
  esp: tunnelEspSchema.optional(),
});

/** A tunnel spec as carried on the wire (and as the engine accepts it). */
export type WireTunnelSpec = z.infer<typeof tunnelSpecSchema>;

/** One row of the seed-001 two-column table: an end's name, public address and inner address. */
export const linkEndSchema = z.strictObject({
  name: z.string().min(1).max(64),
  public: outerAddressSchema.nullable(),
  inner: ipv4AddressSchema,
});

/** The /30 table of one link, the same shape `tunnel-hub peer table --json` prints. */
export const linkTableSchema = z.strictObject({
  prefix: ipv4CidrSchema,
  encap: z.enum(ENCAPSULATIONS),
  key: z.number().int().min(0).max(0xffff_ffff).nullable(),
  mtu: z.number().int().min(576).max(9000),
  ends: z.tuple([linkEndSchema, linkEndSchema]),
  /** Present on an encrypted link: ESP around the GRE or IPIP packet, raw or in UDP (never a key). */
  esp: z.enum(ESP_PATHS).optional(),
});

/** A link's table as carried on the wire. */
export type WireLinkTable = z.infer<typeof linkTableSchema>;

/** Why a link runs the encapsulation it runs, or why it cannot run at all, for status. */
export const linkPathSchema = z.strictObject({
  /** This end's interface of the link. */
  tunnel: z.string().regex(IFNAME),
  encap: z.enum(ENCAPSULATIONS),
  /** A reason code: `pinned`, `public`, `nat-detected`, `gre-probe-unanswered`, `both-ends-behind-nat`, … */
  reason: z.string().regex(/^[a-z][a-z0-9-]{0,63}$/),
  /** False when no tunnel could be issued for the link (the reason says why). */
  reachable: z.boolean(),
  /**
   * Who made a peer<->peer link: `operator` (`link add`) or `shortcut` (the hub, for a busy pair;
   * its end reports the tunnel's liveness and traffic in `link-report`). Absent on hub links.
   */
  kind: z.enum(['operator', 'shortcut']).optional(),
  /** Why the hub made a shortcut (`rate 3.2 Mbit/s`). */
  why: z.string().min(1).max(120).optional(),
});

/** A link's path as carried on the wire. */
export type WireLinkPath = z.infer<typeof linkPathSchema>;
