import { ESP_DROP_REASONS } from '../control/hub-datapath.js';
import { labelValue } from '../../shared/metrics/tunnel-traffic-metrics.js';
import type { HubStatus } from '../hub/hub-status.js';

/** The per-peer encryption families, in the order they are written. */
export const PEER_ESP_FAMILIES = [
  { name: 'tunnel_peer_encrypted', type: 'gauge', help: 'Whether the member\'s tunnel on this hub runs ESP (1) or carries its packets in the clear (0)' },
  { name: 'tunnel_peer_esp_sa_age_seconds', type: 'gauge', help: 'Age of the outbound ESP SA the member\'s tunnel seals with (rekeys keep it below the rekey interval)' },
  {
    name: 'tunnel_peer_esp_drops_total', type: 'counter',
    help: 'Packets ESP dropped on the member\'s tunnel: rx:auth (failed authentication), rx:replay, rx:no-sa (unknown SPI), tx:no-sa (no outbound SA yet), rx:cleartext',
  },
] as const;

/**
 * The per-peer encryption series in the Prometheus text format, for the member tunnels this hub
 * runs (those with counters): `tunnel_peer_encrypted` for each, and for each encrypted one its SA's
 * age and ESP's drops by reason. Labelled `peer` and `encap` (and `reason`) as the traffic series
 * are, so they join in PromQL; never an SPI or a key. Written as text in one pass, as the traffic
 * series are, for hubs of thousands of members.
 */
export function formatPeerEsp(peers: HubStatus['peers']): string {
  const [encrypted, age, drops] = PEER_ESP_FAMILIES.map((family) => [`# HELP ${family.name} ${family.help}`, `# TYPE ${family.name} ${family.type}`]) as [string[], string[], string[]];
  for (const peer of peers) {
    if (!peer.counters) continue;
    const labels = `peer="${labelValue(peer.name)}",encap="${labelValue(peer.encap)}"`;
    encrypted.push(`tunnel_peer_encrypted{${labels}} ${peer.encrypted ? 1 : 0}`);
    if (!peer.encrypted) continue;
    if (peer.saAgeSeconds !== null) age.push(`tunnel_peer_esp_sa_age_seconds{${labels}} ${peer.saAgeSeconds}`);
    if (peer.dropsByReason) {
      for (const reason of ESP_DROP_REASONS) drops.push(`tunnel_peer_esp_drops_total{${labels},reason="${reason}"} ${peer.dropsByReason[reason] ?? 0}`);
    }
  }
  return `${[encrypted, age, drops].map((lines) => lines.join('\n')).join('\n')}\n`;
}
