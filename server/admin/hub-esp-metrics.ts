import { Counter, Gauge, type Registry } from 'prom-client';
import { ESP_DROP_REASONS } from '../control/hub-datapath.js';
import type { HubStatus } from '../hub/hub-status.js';

/**
 * Hub-wide totals of ESP drops that only grow: each tunnel's counts are followed between scrapes,
 * and a tunnel that starts again from zero (re-created, the hub restarted) adds what it counted since.
 */
class EspDropTotals {
  private readonly last = new Map<string, number>();
  readonly totals = new Map<string, number>(ESP_DROP_REASONS.map((reason) => [reason, 0]));

  observe(peers: HubStatus['peers']): void {
    const seen = new Set<string>();
    for (const peer of peers) {
      if (!peer.dropsByReason) continue;
      for (const reason of ESP_DROP_REASONS) {
        const key = `${peer.name}\n${reason}`;
        const now = peer.dropsByReason[reason] ?? 0;
        const before = this.last.get(key) ?? 0;
        this.totals.set(reason, (this.totals.get(reason) ?? 0) + (now >= before ? now - before : now));
        this.last.set(key, now);
        seen.add(key);
      }
    }
    for (const key of this.last.keys()) if (!seen.has(key)) this.last.delete(key);
  }
}

/**
 * The encryption series of /metrics, read from the scrape's status snapshot: encrypted links by
 * how ESP travels, the oldest outbound SA's age (a rekey that stopped shows here), and ESP's drops
 * by reason, all hub-wide (a peer's own are in `tunnel-hub status`). Never a key or an SPI.
 */
export function registerHubEspMetrics(register: Registry, status: () => Promise<HubStatus>): void {
  new Gauge({
    name: 'tunnel_encrypted_links',
    help: 'Member links running ESP, raw (IP protocol 50) or in UDP 4500',
    labelNames: ['esp'] as const,
    registers: [register],
    async collect() {
      const peers = (await status()).peers;
      for (const esp of ['raw', 'udp'] as const) this.set({ esp }, peers.filter((peer) => peer.encrypted && peer.esp === esp).length);
    },
  });
  new Gauge({
    name: 'tunnel_esp_sa_age_max_seconds',
    help: 'Age of the oldest outbound ESP SA a member link seals with (rekeys keep it below the rekey interval)',
    registers: [register],
    async collect() {
      const ages = (await status()).peers.flatMap((peer) => (peer.saAgeSeconds === null ? [] : [peer.saAgeSeconds]));
      this.set(ages.length === 0 ? 0 : Math.max(...ages));
    },
  });
  const drops = new EspDropTotals();
  new Counter({
    name: 'tunnel_esp_drops_total',
    help: 'Packets ESP dropped on member links: rx:auth (failed authentication), rx:replay, rx:no-sa (unknown SPI), tx:no-sa (no outbound SA yet), rx:cleartext',
    labelNames: ['reason'] as const,
    registers: [register],
    async collect() {
      drops.observe((await status()).peers);
      this.reset();
      for (const [reason, count] of drops.totals) this.inc({ reason }, count);
    },
  });
}
