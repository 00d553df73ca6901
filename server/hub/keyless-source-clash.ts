import { TunnelError } from '../../shared/errors.js';
import type { Registry } from '../registry/registry.js';

/**
 * Refuses to aim `peer`'s keyless GRE hub link at `seen` while another peer's keyless GRE hub link
 * is there already: the hub tells keyless GRE apart by source address alone, so two such routers
 * behind one address cannot both have a link. Checked before anything is written.
 */
export async function refuseKeylessSourceClash(registry: Registry, peer: string, seen: string): Promise<void> {
  if (!(await keylessGre(registry, peer))) return;
  for (const other of await registry.keyless.keylessPeersAt(seen, peer)) {
    if (await keylessGre(registry, other)) {
      throw new TunnelError('ERR_ENDPOINT_CONFLICT', `another peer's keyless GRE link already comes from ${seen}, and keyless GRE is told apart by source address alone; the operator can give one of them its key back (\`tunnel-hub peer set NAME --key\`) or pin it to ipip or fou`);
    }
  }
}

/** True when the peer's hub link runs GRE without a key now (a pin to ipip, fou or gue makes it not). */
async function keylessGre(registry: Registry, peer: string): Promise<boolean> {
  const table = await registry.links.table((await registry.links.hubLinkOf(peer)).id);
  return table.encap === 'gre' && table.key == null;
}
