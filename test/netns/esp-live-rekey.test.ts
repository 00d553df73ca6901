import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPairTopology, distUrl, execInAsync, startNodeIn, type PairTopology, type StartedNode } from '../helpers/netns.js';
import { netnsUnavailableReason } from '../helpers/root.js';

const reason = netnsUnavailableReason();
if (reason) console.warn(`skipping esp-live-rekey: ${reason}`);

/**
 * One end of an encrypted gre tunnel on the real engine (fast path on), which rekeys itself
 * make-before-break at the given wall-clock times: takes the new inbound SA beside the old one,
 * then sends with the new outbound SA, then drops the old inbound one, each a plain update().
 * Prints `ready` once up, then its status as JSON at `endAt`.
 */
const END_SCRIPT = `
const [engineUrl, ioUrl, configText] = process.argv.slice(1);
const { DatapathEngine } = await import(engineUrl);
const { nativeDatapathIo } = await import(ioUrl);
const c = JSON.parse(configText);
const key = (hex) => Buffer.from(hex, 'hex');
const sa = (s) => ({ spi: s.spi, key: key(s.key) });
const engine = new DatapathEngine(nativeDatapathIo);
const esp = (outbound, inbound) => ({ aead: 'aes-gcm', outbound: sa(outbound), inbound: inbound.map(sa) });
await engine.addTunnel({ name: 'trk0', encap: 'gre', local: c.local, remote: c.remote, address: c.address, peerAddress: c.peer,
  keepaliveInterval: 1, esp: esp(c.out[0], [c.in[0]]) });
const at = (time, step) => setTimeout(step, Math.max(0, time - Date.now()));
const steps = [];
at(c.steps[0], async () => { await engine.update('trk0', { esp: esp(c.out[0], [c.in[0], c.in[1]]) }); steps.push(engine.tunnelStatus('trk0').spiIn); });
at(c.steps[1], async () => { await engine.update('trk0', { esp: esp(c.out[1], [c.in[0], c.in[1]]) }); steps.push(engine.tunnelStatus('trk0').spiOut); });
at(c.steps[2], async () => { await engine.update('trk0', { esp: esp(c.out[1], [c.in[1]]) }); steps.push(engine.tunnelStatus('trk0').spiIn); });
at(c.endAt, () => {
  const s = engine.tunnelStatus('trk0');
  engine.close();
  console.log(JSON.stringify({ steps, spiIn: s.spiIn, spiOut: s.spiOut, drops: s.dropsByReason, fastPath: s.fastPath, rx: s.rx, tx: s.tx }));
});
console.log('ready');
`;

// Pings every 10 ms across a make-before-break rekey of both ends, through the fast route: the
// forwarding threads pick up each new SA between two batches, and nothing is lost.
describe.skipIf(reason)('a live ESP rekey on the real engine', () => {
  let topo: PairTopology;
  let ends: StartedNode[] = [];
  const spis = { a: [0x3001, 0x3002], b: [0x4001, 0x4002] };
  const keys = { a: [randomBytes(20).toString('hex'), randomBytes(20).toString('hex')], b: [randomBytes(20).toString('hex'), randomBytes(20).toString('hex')] };
  const sas = (side: 'a' | 'b') => spis[side].map((spi, i) => ({ spi, key: keys[side][i]! }));

  beforeAll(() => {
    topo = createPairTopology();
  });

  afterAll(() => {
    for (const end of ends) end.kill();
    topo?.destroy();
  });

  it('loses no ping sent every 10 ms while both ends install, switch to and retire SAs', async () => {
    const start = Date.now() + 6_000;
    const steps = [start + 1_500, start + 3_000, start + 4_500];
    const endAt = start + 12_000;
    const config = (local: string, remote: string, address: string, peer: string, out: 'a' | 'b', inbound: 'a' | 'b') => JSON.stringify({
      local, remote, address, peer, out: sas(out), in: sas(inbound), steps, endAt,
    });
    ends = [
      startNodeIn(topo.a, END_SCRIPT, [distUrl('shared/datapath/datapath-engine.js'), distUrl('shared/datapath/native-datapath-io.js'),
        config(topo.aAddress, topo.bAddress, '10.65.0.1/30', '10.65.0.2', 'a', 'b')], 60_000),
      startNodeIn(topo.b, END_SCRIPT, [distUrl('shared/datapath/datapath-engine.js'), distUrl('shared/datapath/native-datapath-io.js'),
        config(topo.bAddress, topo.aAddress, '10.65.0.2/30', '10.65.0.1', 'b', 'a')], 60_000),
    ];
    await Promise.all(ends.map((end) => end.ready));
    // Warm up until the path answers, then ping from before the first step to after the last.
    for (let i = 0; i < 30 && !/1 received/.test((await execInAsync(topo.a, 'ping', ['-c', '1', '-W', '1', '10.65.0.2'])).stdout); i++);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, start + 500 - Date.now())));
    const ping = await execInAsync(topo.a, 'ping', ['-c', '500', '-i', '0.01', '-W', '2', '10.65.0.2'], 60_000);
    expect(ping.stdout).toMatch(/500 packets transmitted, 500 received/);
    const [a, b] = (await Promise.all(ends.map((end) => end.result))) as { steps: unknown[]; spiIn: number[]; spiOut: number; drops: Record<string, number>; fastPath: { rxPackets: number; txPackets: number } }[];
    expect(a).toMatchObject({ steps: [[0x4001, 0x4002], 0x3002, [0x4002]], spiIn: [0x4002], spiOut: 0x3002 });
    expect(b).toMatchObject({ steps: [[0x3001, 0x3002], 0x4002, [0x3002]], spiIn: [0x3002], spiOut: 0x4002 });
    for (const end of [a!, b!]) {
      expect(end.drops).toEqual({});
      expect(end.fastPath.rxPackets).toBeGreaterThan(400);
    }
  });
});
