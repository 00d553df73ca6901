/**
 * Writes the hex PACKETs given as arguments into a TUN "spf0" of its own: the kernel forwards
 * them (the test routes them into a tunnel), keeping their forged source addresses. Prints {written}.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createPacketBatch, openTun } from '../../native/index.js';
import { applyKernelChange } from '../../shared/system/apply-kernel-change.js';
import { fillSlot } from './batch-slots.js';
import { restArgs } from './script-args.js';

const tun = openTun('spf0');
await applyKernelChange({ kind: 'set-up', link: 'spf0', up: true });
const packets = restArgs(0).map((hex) => Buffer.from(hex, 'hex'));
const batch = createPacketBatch(64, 2048);
// The kernel gets a moment with the new link before packets arrive on it, and after, to forward
// them before the device (and its queue) goes away: neither has an event to wait for.
await sleep(200);
packets.forEach((packet, i) => fillSlot(batch, i, packet));
const written = tun.writeBatch(batch, packets.length);
await sleep(500);
tun.close();
console.log(JSON.stringify({ written }));
