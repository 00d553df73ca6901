import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemberMetrics } from '../../client/metrics/member-metrics.js';
import { DatapathEngine } from '../../shared/datapath/datapath-engine.js';
import { rejectionOf } from '../helpers/error-code.js';
import { tunnelInterfaceName } from '../../shared/net/tunnel-interface-name.js';
import { openMetricsHttpServer, type MetricsHttpServer } from '../../shared/metrics/metrics-http-server.js';
import type { MessageOf } from '../../shared/protocol/index.js';
import { FakeDatapathIo } from '../helpers/fake-datapath-io.js';
import { TUNNEL_TRAFFIC_FAMILIES, metricFamilies, metricProblems, metricValue, promtoolCheck, promtoolUnavailableReason } from '../helpers/prometheus-text.js';
import { ipv4Packet } from '../helpers/test-packets.js';
import { testLogger } from '../helpers/with-hub.js';

const promtoolMissing = promtoolUnavailableReason();
if (promtoolMissing) console.warn(`SKIPPING the promtool check of the member's /metrics: ${promtoolMissing}`);

function get(port: number, path: string, method = 'GET'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk)).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject).end();
  });
}

const table = (a: string, b: string, prefix: string) => ({
  prefix, encap: 'gre' as const, key: 7, mtu: 1472,
  ends: [{ name: a, public: '192.0.2.1', inner: '10.1.12.1' }, { name: b, public: '192.0.2.2', inner: '10.1.12.2' }] as const,
});

describe('a member\'s --metrics', () => {
  const io = new FakeDatapathIo();
  const engine = new DatapathEngine(io);
  const metrics = new MemberMetrics(() => engine.status());
  let server: MetricsHttpServer;

  beforeAll(async () => {
    await engine.addTunnel({ name: 'tnl-hub', encap: 'gre', local: '192.0.2.2', remote: '192.0.2.1', address: '10.1.12.2/30', peerAddress: '10.1.12.1', keepaliveInterval: 0 });
    // A long peer name makes a shortened interface name: the label must still be the peer's name.
    await engine.addTunnel({ name: tunnelInterfaceName('a-very-long-peer-name'), encap: 'gre', local: '192.0.2.2', remote: '192.0.2.9', address: '10.1.12.6/30', peerAddress: '10.1.12.5', keepaliveInterval: 0 });
    server = await openMetricsHttpServer({ host: '127.0.0.1', port: 0 }, metrics, testLogger);
  });
  afterAll(async () => {
    await server.close();
    engine.close();
  });

  it.skipIf(promtoolMissing !== null)('labels each tunnel with the other end\'s name from the config, and moves with traffic', async () => {
    metrics.events.welcomed?.('carol');
    const config = { v: 1, type: 'config', version: 3, tunnels: [], links: [table('hub', 'carol', '10.1.12.0/30'), table('a-very-long-peer-name', 'carol', '10.1.12.4/30')] } as unknown as MessageOf<'config'>;
    metrics.events.applied?.(config, 'carol');
    const before = (await get(server.port, '/metrics')).body;
    expect(promtoolCheck(before)).toEqual({ status: 0, output: '' });
    expect(metricValue(before, 'tunnel_hub_connected')).toBe(1);
    expect(metricValue(before, 'tunnel_hub_sessions_total')).toBe(1);
    expect(metricValue(before, 'tunnel_config_applied_total')).toBe(1);
    expect(metricValue(before, 'tunnel_config_version')).toBe(3);
    expect(metricValue(before, 'tunnel_peer_transmit_packets_total{peer="hub",encap="gre"}')).toBe(0);
    expect(before).toContain('peer="a-very-long-peer-name"');

    io.tun('tnl-hub').deliver({ bytes: ipv4Packet({ src: '10.1.12.2', dst: '10.1.12.1', length: 300 }), addr: 0, port: 0 });
    const after = (await get(server.port, '/metrics')).body;
    expect(metricValue(after, 'tunnel_peer_transmit_packets_total{peer="hub",encap="gre"}')).toBe(1);
    expect(metricValue(after, 'tunnel_peer_transmit_bytes_total{peer="hub",encap="gre"}')).toBe(300);
    expect(metricValue(after, 'tunnel_peer_up{peer="hub",encap="gre"}')).toBe(1);

    metrics.events.ended?.();
    expect(metricValue((await get(server.port, '/metrics')).body, 'tunnel_hub_connected')).toBe(0);
  });

  it('names its series like the hub\'s, by Prometheus conventions, each tunnel labelled peer and encap only', async () => {
    const text = (await get(server.port, '/metrics')).body;
    expect(metricProblems(text, {
      ...TUNNEL_TRAFFIC_FAMILIES, tunnel_peer_up: 'gauge', tunnel_hub_connected: 'gauge', tunnel_hub_sessions_total: 'counter', tunnel_config_applied_total: 'counter',
      tunnel_config_version: 'gauge', tunnel_peer_spoofed_packets_total: 'counter', process_resident_memory_bytes: 'gauge', process_open_fds: 'gauge',
    })).toEqual([]);
    // Both tunnels, one series each (their sources are not filtered, so no spoofed count).
    expect(metricFamilies(text).get('tunnel_peer_transmit_packets_total')?.labelSets).toHaveLength(2);
  });

  it('serves GET /metrics only', async () => {
    expect((await get(server.port, '/')).status).toBe(404);
    expect((await get(server.port, '/metrics', 'POST')).status).toBe(405);
  });

  it('refuses a port in use with a coded error naming --metrics', async () => {
    expect(await rejectionOf(openMetricsHttpServer({ host: '127.0.0.1', port: server.port }, metrics, testLogger))).toMatchObject({
      code: 'ERR_SYSTEM', message: `--metrics 127.0.0.1:${server.port}: the port is in use`,
    });
  });
});
