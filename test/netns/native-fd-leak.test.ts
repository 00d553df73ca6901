import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNamespaces, deleteNamespaces, distUrl, runNodeIn, uniquePrefix } from '../helpers/netns.js';
import { netnsUnavailableReason } from '../helpers/root.js';

const skipReason = netnsUnavailableReason();
if (skipReason) console.warn(`SKIPPED native descriptor-leak test: ${skipReason}`);

// 1,000 open/close cycles each of a TUN device and a UDP socket (half of them with an active
// readiness watch when closed), counting /proc/self/fd before and after.
const cyclesScript = `
import { readdirSync, existsSync } from 'node:fs';
import { openTun, openUdpSocket, createPacketBatch } from '${distUrl('native/index.js')}';
const cycles = Number(process.argv[1]);
const countFds = () => readdirSync('/proc/self/fd').length;
const batch = createPacketBatch(4, 2048);
// Warm up once so lazily opened descriptors (addon load, libuv internals) are in the baseline.
openUdpSocket('127.0.0.1', 0).close();
openTun('tnt-warm').close();
await new Promise((done) => setImmediate(done));
const before = countFds();
let reads = 0;
for (let i = 0; i < cycles; i++) {
  const tun = openTun('tnt' + (i % 7));
  const udp = openUdpSocket('127.0.0.1', 0);
  if (i % 2 === 0) { tun.onReadable(() => {}); udp.onReadable(() => {}); }
  reads += tun.readBatch(batch) + udp.readBatch(batch);
  tun.close();
  udp.close();
}
await new Promise((done) => setImmediate(done));
const after = countFds();
const leftoverDevices = [0, 1, 2, 3, 4, 5, 6].filter((k) => existsSync('/sys/class/net/tnt' + k)).length;
console.log(JSON.stringify({ before, after, reads, leftoverDevices }));
`;

describe.skipIf(skipReason)('native descriptors (netns)', () => {
  const namespace = `${uniquePrefix()}fd`;

  beforeAll(() => createNamespaces([namespace]));
  afterAll(() => deleteNamespaces([namespace]));

  it('1,000 open/close cycles of TUN devices and UDP sockets leak no descriptors or devices', async () => {
    const result = (await runNodeIn(namespace, cyclesScript, ['1000'], 120_000)) as {
      before: number;
      after: number;
      reads: number;
      leftoverDevices: number;
    };
    expect(result.before).toBeGreaterThan(2);
    expect(result.after).toBe(result.before);
    expect(result.reads).toBe(0);
    expect(result.leftoverDevices).toBe(0);
  });
});
