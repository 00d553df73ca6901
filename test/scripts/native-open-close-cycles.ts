/**
 * CYCLES open/close cycles each of a TUN device and a UDP socket (half of them with an active
 * readiness watch when closed), counting /proc/self/fd before and after; prints the counts and
 * how many of the devices are left.
 */
import { existsSync, readdirSync } from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { createPacketBatch, openTun, openUdpSocket } from '../../native/index.js';
import { scriptArgs } from './script-args.js';

const { cycles } = scriptArgs('cycles');
const countFds = (): number => readdirSync('/proc/self/fd').length;
const batch = createPacketBatch(4, 2048);
// Warm up once so lazily opened descriptors (addon load, libuv internals) are in the baseline.
openUdpSocket('127.0.0.1', 0).close();
openTun('tnt-warm').close();
await nextTurn();
const before = countFds();
let reads = 0;
for (let i = 0; i < Number(cycles); i++) {
  const tun = openTun(`tnt${i % 7}`);
  const udp = openUdpSocket('127.0.0.1', 0);
  if (i % 2 === 0) {
    tun.onReadable(() => undefined);
    udp.onReadable(() => undefined);
  }
  reads += tun.readBatch(batch) + udp.readBatch(batch);
  tun.close();
  udp.close();
}
await nextTurn();
const after = countFds();
const leftoverDevices = [0, 1, 2, 3, 4, 5, 6].filter((k) => existsSync(`/sys/class/net/tnt${k}`)).length;
console.log(JSON.stringify({ before, after, reads, leftoverDevices }));
