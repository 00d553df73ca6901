import { z } from 'zod';
import { ipv4AddressSchema, ipv4CidrSchema } from './ipv4-address-schema.js';

/** Linux interface names are at most 15 bytes; the datapath names its TUN after the tunnel. */
const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;

/** One end of a tunnel as the datapath engine takes it, carried in `config` messages. */
export const tunnelSpecSchema = z.strictObject({
  name: z.string().regex(IFNAME, 'expected an interface name of 1-15 characters'),
  encap: z.enum(['gre', 'ipip', 'fou', 'gue']),
  local: ipv4AddressSchema,
  remote: ipv4AddressSchema,
  key: z.number().int().min(0).max(0xffff_ffff).optional(),
  port: z.number().int().min(1).max(65535).optional(),
  localPort: z.number().int().min(0).max(65535).optional(),
  remotePort: z.number().int().min(1).max(65535).optional(),
  address: ipv4CidrSchema,
  peerAddress: ipv4AddressSchema,
  mtu: z.number().int().min(576).max(9000).optional(),
  ttl: z.number().int().min(1).max(255).optional(),
});

/** A tunnel spec as carried on the wire (and as the engine accepts it). */
export type WireTunnelSpec = z.infer<typeof tunnelSpecSchema>;

/** One row of the seed-001 two-column table: an end's name, public address and inner address. */
export const linkEndSchema = z.strictObject({
  name: z.string().min(1).max(64),
  public: ipv4AddressSchema.nullable(),
  inner: ipv4AddressSchema,
});

/** The /30 table of one link, the same shape `tunnel-hub peer table --json` prints. */
export const linkTableSchema = z.strictObject({
  prefix: ipv4CidrSchema,
  encap: z.enum(['gre', 'ipip', 'fou', 'gue']),
  key: z.number().int().min(0).max(0xffff_ffff).nullable(),
  mtu: z.number().int().min(576).max(9000),
  ends: z.tuple([linkEndSchema, linkEndSchema]),
});

/** A link's table as carried on the wire. */
export type WireLinkTable = z.infer<typeof linkTableSchema>;
