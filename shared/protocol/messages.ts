import { z } from 'zod';
import { ipPrefixSchema } from './ip-prefix-schema.js';
import { ipv4AddressSchema } from './ipv4-address-schema.js';
import { outerAddressSchema } from './outer-address-schema.js';
import { MAX_ADVERTISED, MAX_TUNNEL_ROUTES } from './route-limits.js';
import { linkPathSchema, linkTableSchema, tunnelSpecSchema } from './tunnel-spec-schema.js';

const v = z.number().int();

/** Client -> hub, first message of every session: who speaks and what outer address it believes it has. */
export const helloSchema = z.strictObject({
  v,
  type: z.literal('hello'),
  software: z.string().min(1).max(64),
  /** The outer address the client believes it has, of the family it connected over. */
  endpoint: outerAddressSchema.nullable(),
  /**
   * Prefixes the member asks to have routed behind it (`--advertise`): each stays pending until
   * the operator approves it; pending ones left out of a later hello are withdrawn.
   */
  advertise: z.array(ipPrefixSchema).max(MAX_ADVERTISED).optional(),
});

/** What became of each prefix a member advertised (`refused` ones carry the hub's error code). */
export const advertisedSchema = z.strictObject({
  prefix: ipPrefixSchema,
  state: z.enum(['pending', 'approved', 'refused']),
  code: z.string().regex(/^ERR_[A-Z_]+$/).optional(),
  message: z.string().max(256).optional(),
});

/**
 * Hub -> client, answer to `hello`: the peer name the hub authenticated, a session id, a fresh
 * 32-byte session key (base64url; it authenticates the UDP hellos), the keepalive
 * interval both sides use, and the address the hub sees the connection come from.
 */
export const welcomeSchema = z.strictObject({
  v,
  type: z.literal('welcome'),
  peer: z.string().min(1).max(64),
  session: z.string().min(1).max(64),
  sessionKey: z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'expected 32 bytes of base64url'),
  keepaliveMs: z.number().int().min(50).max(600_000),
  seen: outerAddressSchema,
  /**
   * The hub's global IPv6 address, when it has one: a member with a global IPv6 path to it
   * connects there, and its hub link then runs over IPv6.
   */
  ipv6Endpoint: outerAddressSchema.optional(),
});

/** Client -> hub: the outer address the client now believes it has. */
export const reportSchema = z.strictObject({
  v,
  type: z.literal('report'),
  endpoint: z.strictObject({ address: outerAddressSchema }),
});

/** One hub of a cluster: where a member can reach it and the host key that proves it is that hub. */
export const clusterHubSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,30}$/),
  /** Its WebSocket front door, ws:// or wss://. */
  url: z.string().regex(/^wss?:\/\/[^\s/]{1,253}$/),
  endpoint: ipv4AddressSchema,
  /** SHA256 fingerprint of its SSH host key: the audience of client tokens and the SSH host key pin. */
  hostKey: z.string().regex(/^SHA256:[A-Za-z0-9+/]{43}$/),
  sshPort: z.number().int().min(1).max(65535).optional(),
});

/**
 * Hub -> client: the full, versioned set of tunnels for the client's ends, and each link's table.
 * Versions only grow (they survive hub restarts); a client ignores a version it has already passed.
 */
export const configSchema = z.strictObject({
  v,
  type: z.literal('config'),
  version: z.number().int().min(1),
  tunnels: z.array(tunnelSpecSchema).max(256),
  links: z.array(linkTableSchema).max(256),
  /** Per link: the encapsulation chosen and why; absent from older hubs. */
  paths: z.array(linkPathSchema).max(256).optional(),
  /** The prefixes behind this member: those it advertised, and those the operator added. */
  advertised: z.array(advertisedSchema).max(MAX_TUNNEL_ROUTES).optional(),
  /** In a cluster: the hub serving this session and every hub the member may move to. */
  cluster: z.strictObject({
    hub: z.string().regex(/^[a-z0-9][a-z0-9-]{0,30}$/),
    hubs: z.array(clusterHubSchema).min(1).max(64),
  }).optional(),
});

/**
 * Client -> hub: whether a path probe of one of the client's tunnels was answered (the hub's
 * keepalive echo arrived in time). The hub falls back GRE -> FOU -> GUE on unanswered probes.
 */
export const probeSchema = z.strictObject({
  v,
  type: z.literal('probe'),
  tunnel: z.string().regex(/^[A-Za-z0-9_.-]{1,15}$/),
  encap: z.enum(['gre', 'ipip', 'fou', 'gue']),
  answered: z.boolean(),
});

/**
 * Client -> hub: the outbound ESP SA of one of the client's tunnels passed the sequence number a
 * rekey is due at (its engine's onRekeyDue): the hub rekeys that link make-before-break.
 */
export const rekeySchema = z.strictObject({
  v,
  type: z.literal('rekey'),
  tunnel: z.string().regex(/^[A-Za-z0-9_.-]{1,15}$/),
});

/** The largest number of tunnels one `link-report` names (a member's shortcuts are capped well below). */
const MAX_LINK_REPORTS = 256;

/**
 * Client -> hub: the liveness and data counters of the client's shortcut tunnels (paths of kind
 * `shortcut`), sent when a liveness changes and once a second while traffic crosses one. The hub
 * puts a shortcut's routes in only once both ends say `up`, removes one an end says is `down`,
 * and takes its rate and idle time from the counters.
 */
export const linkReportSchema = z.strictObject({
  v,
  type: z.literal('link-report'),
  links: z.array(z.strictObject({
    tunnel: z.string().regex(/^[A-Za-z0-9_.-]{1,15}$/),
    state: z.enum(['up', 'down']),
    /** Inner bytes received and sent through the tunnel since it was made. */
    rxBytes: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    txBytes: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  })).min(1).max(MAX_LINK_REPORTS),
});

/** Client -> hub: the config version now applied by the client's datapath. */
export const ackSchema = z.strictObject({
  v,
  type: z.literal('ack'),
  version: z.number().int().min(1),
});

/** Both ways: proof of life; any message resets the other side's liveness timer. */
export const keepaliveSchema = z.strictObject({
  v,
  type: z.literal('keepalive'),
});

/** Both ways: a coded error; after a protocol violation the sender closes the session. */
export const errorSchema = z.strictObject({
  v,
  type: z.literal('error'),
  code: z.string().regex(/^ERR_[A-Z_]+$/),
  message: z.string().max(512),
});

/** Every control message, told apart by `type`. */
export const controlMessageSchema = z.discriminatedUnion('type', [
  helloSchema, welcomeSchema, reportSchema, configSchema, ackSchema, probeSchema, rekeySchema, linkReportSchema, keepaliveSchema, errorSchema,
]);

/** Any control message. */
export type ControlMessage = z.infer<typeof controlMessageSchema>;
/** A message of the given `type`. */
export type MessageOf<T extends ControlMessage['type']> = Extract<ControlMessage, { type: T }>;
/** A message without its version field, as code builds it before `encodeMessage` stamps `v`. */
export type OutgoingMessage = ControlMessage extends infer M ? (M extends ControlMessage ? Omit<M, 'v'> : never) : never;

/** Messages only a client may send; the hub refuses anything else from a client. */
export const CLIENT_MESSAGE_TYPES: ReadonlySet<ControlMessage['type']> = new Set(['hello', 'report', 'ack', 'probe', 'rekey', 'link-report', 'keepalive', 'error']);
/** Messages only a hub may send; the client refuses anything else from a hub. */
export const HUB_MESSAGE_TYPES: ReadonlySet<ControlMessage['type']> = new Set(['welcome', 'config', 'keepalive', 'error']);
