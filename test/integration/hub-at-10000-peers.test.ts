import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openHubState } from '../../server/hub-state/hub-state.js';
import { initHubState } from '../../server/hub-state/init-hub-state.js';
import type { HubStatus } from '../../server/hub/hub-status.js';
import { MemoryDatapath } from '../../server/hub/memory-datapath.js';
import type { PeerListEntry } from '../../server/hub/peer-list-report.js';
import { startHub, type RunningHub } from '../../server/hub/start-hub.js';
import { tunnelInterfaceName } from '../../shared/net/tunnel-interface-name.js';
import type { WireTunnelSpec } from '../../shared/protocol/index.js';
import { registrySnapshot, runHubCli } from '../helpers/hub-cli.js';
import { metricFamilies, metricValue, promtoolCheck, promtoolUnavailableReason } from '../helpers/prometheus-text.js';
import { TEST_HUB_ENDPOINT, testLogger } from '../helpers/with-hub.js';

// Correctness at the size the hub is built for; how fast it answers is bench:admin-scale's business.
const PEERS = 10_000;
const promtoolMissing = promtoolUnavailableReason();
if (promtoolMissing) console.warn(`skipping the promtool checks at 10,000 peers: ${promtoolMissing}`);

function scrape(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk)).on('end', () => resolve(body));
    }).on('error', reject).end();
  });
}

/** A hub on the state folder with the admin listener, every peer's tunnel running in its memory datapath. */
async function startWithTunnels(stateDir: string, metricsPerPeer: boolean): Promise<RunningHub> {
  const datapath = new MemoryDatapath();
  const hub = await startHub({
    stateDir, listen: '127.0.0.1', wsPort: 0, sshPort: 0, datapath: () => datapath, log: testLogger,
    admin: { host: '127.0.0.1', port: 0, metricsPerPeer },
  });
  // Counters for every peer, as if each had a tunnel up, without 10,000 sessions.
  for (let i = 0; i < PEERS; i++) datapath.tunnels.set(tunnelInterfaceName(`m${i}`), { routes: [] } as unknown as WireTunnelSpec);
  return hub;
}

describe('a hub of 10,000 peers', () => {
  const parent = mkdtempSync(join(tmpdir(), 'tunnel-hub-10k-'));
  const stateDir = join(parent, 'hub');

  beforeAll(async () => {
    await initHubState(stateDir, { endpoint: TEST_HUB_ENDPOINT, pool: '10.64.0.0/16' });
    const state = await openHubState(stateDir);
    try {
      // One transaction through the store API: seconds, where 10,000 `peer add` commits would take minutes.
      await state.registry.transaction(async (tx) => {
        for (let i = 0; i < PEERS; i++) {
          await tx.peers.add({ name: `m${i}` });
          if (i % 4 === 0) await tx.endpoints.record(`m${i}`, { address: `203.0.113.${(i % 250) + 1}`, source: 'observed' });
        }
      });
    } finally {
      await state.close();
    }
  }, 600_000);
  afterAll(() => rmSync(parent, { recursive: true, force: true }));

  it('holds every peer with a /30 of its own', async () => {
    const state = await openHubState(stateDir);
    try {
      const peers = await state.registry.peers.list();
      expect(peers).toHaveLength(PEERS);
      expect(new Set(peers.map((peer) => peer.prefix)).size).toBe(PEERS);
      expect(peers.filter((peer) => peer.public !== null)).toHaveLength(PEERS / 4);
    } finally {
      await state.close();
    }
  });

  describe('serve with per-peer metrics on (the default)', () => {
    let hub: RunningHub;
    beforeAll(async () => {
      hub = await startWithTunnels(stateDir, true);
    }, 300_000);
    afterAll(async () => {
      await hub.close();
    });

    it.skipIf(promtoolMissing !== null)('serves /metrics that promtool accepts, one series per peer and counter labelled peer and encap, and the totals', async () => {
      const text = await scrape(hub.adminPort ?? 0);
      expect(promtoolCheck(text)).toEqual({ status: 0, output: '' });
      const families = metricFamilies(text);
      const perPeer = [...families].filter(([name]) => name.startsWith('tunnel_peer_'));
      // The 9 traffic series and whether the link is encrypted, for every tunnel; no link is
      // encrypted here, so the SA age and ESP drops families are empty.
      expect(perPeer).toHaveLength(12);
      for (const [name, family] of perPeer) {
        const series = name === 'tunnel_peer_esp_sa_age_seconds' || name === 'tunnel_peer_esp_drops_total' ? 0 : PEERS;
        expect({ name, series: family.labelSets.length }).toEqual({ name, series });
        expect(family.labelSets.every((labels) => labels.join(',') === 'encap,peer')).toBe(true);
      }
      expect(metricValue(text, 'tunnel_peer_encrypted{peer="m9999",encap="gre"}')).toBe(0);
      expect(metricValue(text, 'tunnel_peer_receive_bytes_total{peer="m9999",encap="gre"}')).toBe(0);
      expect(families.get('tunnel_receive_bytes_total')).toEqual({ type: 'counter', labelSets: [['encap']] });
      expect(metricValue(text, 'tunnel_peers{state="down"}')).toBe(PEERS);
    });

    it('lists every peer, and selects by state, name, inner address and public address', async () => {
      const list = async (...args: string[]): Promise<PeerListEntry[]> => {
        const result = await runHubCli(stateDir, ['peer', 'list', ...args, '--json']);
        expect(result, result.stderr).toMatchObject({ code: 0, stderr: '' });
        return JSON.parse(result.stdout) as PeerListEntry[];
      };
      const all = await list();
      expect(all).toHaveLength(PEERS);
      expect(all.every((peer) => peer.state === 'down')).toBe(true);
      expect((await list('--filter', 'm999')).map((peer) => peer.name)).toEqual(['m999', 'm9990', 'm9991', 'm9992', 'm9993', 'm9994', 'm9995', 'm9996', 'm9997', 'm9998', 'm9999']);
      // Peer i's inner address is 10.64.0.0 + 4i + 2: 10.64.39.6, .62 and .66 are m2497, m2511 and m2512.
      expect((await list('--filter', '10.64.39.6')).map((peer) => [peer.name, peer.inner])).toEqual([['m2497', '10.64.39.6'], ['m2511', '10.64.39.62'], ['m2512', '10.64.39.66']]);
      // Every fourth peer was seen at 203.0.113.(i % 250 + 1): .25 (and no .250) is i = 24 + 500j.
      const seen = await list('--filter', '203.0.113.25');
      expect(seen.map((peer) => Number(peer.name.slice(1))).sort((a, b) => a - b)).toEqual(Array.from({ length: PEERS / 500 }, (_, j) => 24 + 500 * j));
      expect(seen.every((peer) => peer.public === '203.0.113.25')).toBe(true);
      expect(await list('--state', 'up')).toEqual([]);
    });

    it('reports every peer\'s status with its counters, and only those selected with a filter', async () => {
      const status = async (...args: string[]): Promise<HubStatus> => {
        const result = await runHubCli(stateDir, ['status', ...args, '--json']);
        expect(result, result.stderr).toMatchObject({ code: 0, stderr: '' });
        return JSON.parse(result.stdout) as HubStatus;
      };
      const all = await status();
      expect(all.hub.running).toBe(true);
      expect(all.peers).toHaveLength(PEERS);
      expect(all.peers.every((peer) => peer.counters !== null && !peer.connected)).toBe(true);
      expect((await status('--filter', 'm9999')).peers.map((peer) => peer.name)).toEqual(['m9999']);
      expect((await status('--state', 'up')).peers).toEqual([]);
    });
  });

  describe('serve --metrics-per-peer off', () => {
    let hub: RunningHub;
    beforeAll(async () => {
      hub = await startWithTunnels(stateDir, false);
    }, 300_000);
    afterAll(async () => {
      await hub.close();
    });

    it.skipIf(promtoolMissing !== null)('serves /metrics that promtool accepts with no series labelled by peer, the totals and the histogram', async () => {
      const text = await scrape(hub.adminPort ?? 0);
      expect(promtoolCheck(text)).toEqual({ status: 0, output: '' });
      const families = metricFamilies(text);
      expect([...families.keys()].filter((name) => name.startsWith('tunnel_peer_'))).toEqual([]);
      expect([...families].filter(([, family]) => family.labelSets.some((labels) => labels.includes('peer'))).map(([name]) => name)).toEqual([]);
      expect(text).not.toMatch(/peer="/);
      for (const name of ['tunnel_receive_bytes_total', 'tunnel_transmit_packets_total', 'tunnel_spoofed_packets_total']) {
        expect({ name, family: families.get(name) }).toEqual({ name, family: { type: 'counter', labelSets: [['encap']] } });
      }
      expect(families.get('tunnel_config_ack_latency_seconds')?.type).toBe('histogram');
      expect(metricValue(text, 'tunnel_peers{state="down"}')).toBe(PEERS);
    });
  });

  it('serve refuses a --metrics-per-peer other than on or off with one coded line, changing nothing', async () => {
    const before = await registrySnapshot(stateDir);
    for (const bad of ['maybe', 'ON', '']) {
      const result = await runHubCli(stateDir, ['serve', '--listen', '127.0.0.1', '--ws-port', '0', '--ssh-port', '0', '--datapath', 'none', '--admin-listen', '127.0.0.1:0', '--metrics-per-peer', bad]);
      expect({ bad, code: result.code, stdout: result.stdout, stderr: result.stderr }).toEqual({
        bad, code: 1, stdout: '', stderr: `tunnel-hub: ERR_INVALID_ARGUMENT: --metrics-per-peer "${bad}" must be on or off\n`,
      });
    }
    expect(await registrySnapshot(stateDir)).toEqual(before);
  });
});
