import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { TunnelError } from '../../shared/errors.js';

// Every forwarding switch is refused, as a hub out of descriptors sees it.
vi.mock('../../shared/system/apply-kernel-change.js', () => ({
  applyKernelChange: async () => {
    throw new TunnelError('ERR_RESOURCE_LIMIT', 'rtnetlink batch: socket NETLINK_ROUTE: Too many open files');
  },
}));

const { EngineHubDatapath } = await import('../../server/hub/engine-hub-datapath.js');
const { DatapathEngine } = await import('../../shared/datapath/datapath-engine.js');
const { KernelRoutes } = await import('../../shared/routing/kernel-routes.js');
const { FakeDatapathIo } = await import('../helpers/fake-datapath-io.js');

describe('the hub datapath when the kernel refuses forwarding', () => {
  it('logs a refused forwarding switch once per code, not once per member, and still runs every tunnel', async () => {
    const warnings: { code?: string; tunnel?: string }[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line) as { code?: string; tunnel?: string }) });
    const engine = new DatapathEngine(new FakeDatapathIo());
    const routes = new KernelRoutes({ apply: async (changes) => changes.map(() => ({ ok: true as const })) });
    const datapath = new EngineHubDatapath(engine, { forward: true, routes, log });
    for (let i = 0; i < 5; i++) {
      await datapath.upsert({
        name: `tnl-m${i}`, encap: 'gre', local: '192.0.2.1', remote: `198.51.100.${i + 1}`,
        address: `10.9.0.${i * 4 + 1}/30`, peerAddress: `10.9.0.${i * 4 + 2}`, keepaliveInterval: 0,
      }, `m${i}`);
    }
    expect(warnings.map(({ code, tunnel }) => ({ code, tunnel }))).toEqual([{ code: 'ERR_RESOURCE_LIMIT', tunnel: 'tnl-m0' }]);
    expect(engine.status().map((tunnel) => tunnel.name)).toEqual(['tnl-m0', 'tnl-m1', 'tnl-m2', 'tnl-m3', 'tnl-m4']);
    await engine.close();
  });
});
