import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { hubDeviceErrorChannel, HubDeviceError } from '../../server/control/hub-device-error.js';
import { EngineHubDatapath } from '../../server/hub/engine-hub-datapath.js';
import { DatapathEngine } from '../../shared/datapath/datapath-engine.js';
import { deviceOwner } from '../../shared/datapath/device-owner.js';
import { KernelRoutes } from '../../shared/routing/kernel-routes.js';
import type { WireTunnelSpec } from '../../shared/protocol/index.js';
import { FakeDatapathIo } from '../helpers/fake-datapath-io.js';

function wire(i: number): WireTunnelSpec {
  return { name: `tnl-m${i}`, encap: 'gre', key: i + 1, local: '192.0.2.1', remote: '198.51.100.1', address: `10.9.${i}.1/30`, peerAddress: `10.9.${i}.2`, mtu: 1472 };
}

describe('a member device the kernel refuses, on the hub', () => {
  it('costs that member only: a coded HubDeviceError, one log line per cause, every refusal published', async () => {
    const io = new FakeDatapathIo();
    for (const i of [1, 2, 3]) io.otherLinks.set(`tnl-m${i}`, { group: 0, alias: null });
    const engine = new DatapathEngine(io, { owner: deviceOwner('tunnel-hub:test') });
    const lines: { msg: string; cause?: string }[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as { msg: string }) });
    const routes = new KernelRoutes({ apply: async (changes) => changes.map(() => ({ ok: true as const })) });
    const datapath = new EngineHubDatapath(engine, { forward: false, routes, log });
    const published: unknown[] = [];
    const listener = (message: unknown): number => published.push(message);
    subscribe(hubDeviceErrorChannel.name, listener);
    try {
      const results = await Promise.allSettled([0, 1, 2, 3, 4].map((i) => datapath.upsert(wire(i), `peer-${i}`)));
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'rejected', 'fulfilled']);
      for (const r of results.slice(1, 4)) {
        const reason = (r as PromiseRejectedResult).reason as HubDeviceError;
        expect(reason).toBeInstanceOf(HubDeviceError);
        expect(reason).toMatchObject({ code: 'ERR_ALREADY_EXISTS', deviceCause: 'name-clash' });
      }
      expect(published).toEqual([1, 2, 3].map((i) => ({ cause: 'name-clash', code: 'ERR_ALREADY_EXISTS', tunnel: `tnl-m${i}` })));
      expect(lines.filter((line) => line.cause === 'name-clash')).toHaveLength(1);
      expect(engine.status().map((s) => s.name)).toEqual(['tnl-m0', 'tnl-m4']);
      expect([...io.otherLinks.keys()]).toEqual(['tnl-m1', 'tnl-m2', 'tnl-m3']);
    } finally {
      unsubscribe(hubDeviceErrorChannel.name, listener);
      await datapath.close();
    }
  });
});
