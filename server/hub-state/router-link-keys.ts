import type { LinkEspKeys } from '../../shared/kernel-config/link-esp-keys.js';
import { deriveLinkSaPair, LINK_AEAD, type LinkSa } from '../control/link-sa-keys.js';
import { generateEspMasterKey } from '../control/link-sa-keeper.js';
import { linkEncapFields, type LinkTable } from '../registry/link-table.js';
import type { Registry } from '../registry/registry.js';

/** A router's link tables, each encrypted one as it runs in ESP, with the router's SAs beside it. */
export interface KeyedTables {
  tables: LinkTable[];
  /** The router's SAs per table (same index), undefined for a link in the clear. */
  esp: (LinkEspKeys | undefined)[];
}

/**
 * What `peer config NAME TARGET` (and `ssh NAME@hub config`) renders for a router: its tables,
 * and for each encrypted link its static SAs. A router encrypts only when the operator set it on;
 * then its hub link is encrypted, and a peer link is when the hub decided so (both ends encrypt:
 * the link's recorded path says ESP). The SAs are those of the link's newest epoch (made now if it
 * has none), derived from the ESP master key as the hub's datapath derives them, so the rendered
 * config and the hub's end agree until `peer rekey`. Raw ESP unless the pin names FOU or GUE.
 */
export async function keyedRouterTables(registry: Registry, peer: string): Promise<KeyedTables> {
  const record = await registry.peers.require(peer);
  const tables = await registry.links.tablesForPeer(peer);
  const links = await registry.links.listForPeer(peer);
  if (record.encrypt !== 'on') return { tables, esp: tables.map(() => undefined) };
  const master = Buffer.from(await registry.clusterSecrets.espMasterKey(generateEspMasterKey), 'base64url');
  const latest = await registry.saEpochs.latest(links.map((link) => link.id));
  const keyed: KeyedTables = { tables: [], esp: [] };
  for (const [index, table] of tables.entries()) {
    const link = links[index];
    if (!link || (!link.hubLink && table.esp === undefined)) {
      keyed.tables.push(table);
      keyed.esp.push(undefined);
      continue;
    }
    const path = table.esp ?? (table.encap === 'fou' || table.encap === 'gue' ? 'udp' : 'raw');
    const epoch = latest.get(link.id) ?? await registry.saEpochs.start({ kind: 'member', linkId: link.id }, LINK_AEAD, 'first');
    const pair = deriveLinkSaPair(master, { kind: 'member', linkId: link.id }, epoch.epoch, epoch.aead);
    const first = table.ends[0].name === peer;
    keyed.tables.push({ ...table, ...linkEncapFields(table.encap, link.greKey, link.keyless, path) });
    keyed.esp.push({
      aead: epoch.aead,
      outbound: rendered(first ? pair.firstToSecond : pair.secondToFirst),
      inbound: rendered(first ? pair.secondToFirst : pair.firstToSecond),
      path,
    });
  }
  return keyed;
}

function rendered(sa: LinkSa): { spi: number; keyHex: string } {
  return { spi: sa.spi, keyHex: sa.key.toString('hex') };
}
