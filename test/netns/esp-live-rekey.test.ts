import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPairTopology, execInAsync, startNodeIn, type PairTopology, type StartedNode } from '../helpers/netns.js';
import { netnsUnavailableReason } from '../helpers/root.js';
import { testScript } from '../helpers/test-scripts.js';
import { waitUntil } from '../helpers/wait-until.js';
import type { EspRekeyEndConfig, EspRekeyEndResult, HexSa } from '../scripts/esp-rekey-end.js';

const reason = netnsUnavailableReason();
if (reason) console.warn(`skipping esp-live-rekey: ${reason}`);

// Pings every 10 ms across a make-before-break rekey of both ends, through the fast route: the
// forwarding threads pick up each new SA between two batches, and nothing is lost.
describe.skipIf(reason)('a live ESP rekey on the real engine', () => {
  let topo: PairTopology;
  let ends: StartedNode[] = [];
  const spis = { a: [0x3001, 0x3002], b: [0x4001, 0x4002] };
  const keys = { a: [randomBytes(20).toString('hex'), randomBytes(20).toString('hex')], b: [randomBytes(20).toString('hex'), randomBytes(20).toString('hex')] };
  const sas = (side: 'a' | 'b'): [HexSa, HexSa] => [{ spi: spis[side][0]!, key: keys[side][0]! }, { spi: spis[side][1]!, key: keys[side][1]! }];

  beforeAll(() => {
    topo = createPairTopology();
  });

  afterAll(() => {
    for (const end of ends) end.kill();
    topo?.destroy();
  });

  it('loses no ping sent every 10 ms while both ends install, switch to and retire SAs', async () => {
    const start = Date.now() + 6_000;
    const steps: EspRekeyEndConfig['steps'] = [start + 1_500, start + 3_000, start + 4_500];
    const endAt = start + 12_000;
    const config = (local: string, remote: string, address: string, peer: string, out: 'a' | 'b', inbound: 'a' | 'b'): string => JSON.stringify({
      local, remote, address, peer, out: sas(out), in: sas(inbound), steps, endAt,
    } satisfies EspRekeyEndConfig);
    ends = [
      startNodeIn(topo.a, testScript('esp-rekey-end'), [config(topo.aAddress, topo.bAddress, '10.65.0.1/30', '10.65.0.2', 'a', 'b')], 60_000),
      startNodeIn(topo.b, testScript('esp-rekey-end'), [config(topo.bAddress, topo.aAddress, '10.65.0.2/30', '10.65.0.1', 'b', 'a')], 60_000),
    ];
    await Promise.all(ends.map((end) => end.ready));
    // Warm up until the path answers, then ping from before the first step to after the last.
    await waitUntil(async () => /1 received/.test((await execInAsync(topo.a, 'ping', ['-c', '1', '-W', '1', '10.65.0.2'])).stdout), 30_000, 'a ping across the tunnel');
    // The ends rekey on a wall-clock schedule: the pings start half a second before its first step.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, start + 500 - Date.now())));
    const ping = await execInAsync(topo.a, 'ping', ['-c', '500', '-i', '0.01', '-W', '2', '10.65.0.2'], 60_000);
    expect(ping.stdout).toMatch(/500 packets transmitted, 500 received/);
    const [a, b] = (await Promise.all(ends.map((end) => end.result))) as EspRekeyEndResult[];
    expect(a).toMatchObject({ steps: [[0x4001, 0x4002], 0x3002, [0x4002]], spiIn: [0x4002], spiOut: 0x3002 });
    expect(b).toMatchObject({ steps: [[0x3001, 0x3002], 0x4002, [0x3002]], spiIn: [0x3002], spiOut: 0x4002 });
    for (const end of [a!, b!]) {
      expect(end.drops).toEqual({});
      expect(end.fastPath?.rxPackets).toBeGreaterThan(400);
    }
  });
});
