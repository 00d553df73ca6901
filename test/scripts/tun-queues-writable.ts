/**
 * Multi-queue TUN tntq: a second open of the same name adds a queue; a one-shot writable callback
 * fires once. After 300 ms (time for a second call, were there one) closes the queues one by one.
 */
import { existsSync } from 'node:fs';
import { openTun } from '../../native/index.js';
import { applyKernelChange } from '../../shared/system/apply-kernel-change.js';

const first = openTun('tntq', { multiQueue: true });
const second = openTun('tntq', { multiQueue: true });
await applyKernelChange({ kind: 'set-up', link: 'tntq', up: true }); // the kernel reports a TUN writable only while it is up
let writable = 0;
first.onWritable(() => {
  writable++;
});
setTimeout(() => {
  first.close();
  const existsWithOneQueue = existsSync('/sys/class/net/tntq');
  second.close();
  console.log(JSON.stringify({ names: [first.name, second.name], writable, existsWithOneQueue, existsAfterBoth: existsSync('/sys/class/net/tntq') }));
}, 300);
