/**
 * As root in a fresh namespace: busy names, foreign addresses, missing devices, bad batches and
 * every use after close; prints each attempt's outcome. The closed watches must not keep the
 * process alive: it has to exit by itself.
 */
import { createPacketBatch, openRawSocket, openTun, openUdpSocket, type NativePacketEndpoint } from '../../native/index.js';
import { applyKernelChange } from '../../shared/system/apply-kernel-change.js';
import { NativeAttempts } from './native-attempts.js';

const attempts = new NativeAttempts();
const attempt = attempts.attempt.bind(attempts);
const batch = createPacketBatch(4, 2048);
const endpoints: Record<string, NativePacketEndpoint> = {
  tun: openTun('tnt0'),
  udp: openUdpSocket('127.0.0.1', 0),
  raw: openRawSocket(47, '127.0.0.1'),
};
const tun = endpoints['tun']!;
const udp = endpoints['udp']!;
// A second non-multi-queue open of a busy name fails and leaves the first device working.
await attempt('busyTun', () => openTun('tnt0'));
await attempt('firstTunStillReads', () => {
  if (tun.readBatch(batch) !== 0) throw new Error('unexpected packet');
});
await attempt('bindForeign', () => openUdpSocket('198.51.100.77', 0));
await attempt('rawBindForeign', () => openRawSocket(47, '198.51.100.77'));
await attempt('missingDevice', () => applyKernelChange({ kind: 'set-mtu', link: 'nosuchdev0', mtu: 1400 }));
await attempt('badHeadroom', () => udp.readBatch(batch, 2048));
await attempt('badCount', () => udp.writeBatch(batch, 5));
await attempt('foreignBatch', () => udp.readBatch({ ...batch, data: Buffer.alloc(10) }));
batch.offsets[0] = 2000;
batch.lengths[0] = 100;
batch.addrs[0] = 0x7f000001;
batch.ports[0] = 9;
await attempt('slotOverrun', () => udp.writeBatch(batch, 1));
for (const [kind, endpoint] of Object.entries(endpoints)) {
  endpoint.onReadable(() => undefined);
  endpoint.close();
  await attempt(`${kind}CloseTwice`, () => endpoint.close());
  await attempt(`${kind}Read`, () => endpoint.readBatch(batch));
  await attempt(`${kind}Write`, () => endpoint.writeBatch(batch, 0));
  await attempt(`${kind}Watch`, () => endpoint.onReadable(() => undefined));
  await attempt(`${kind}Counters`, () => endpoint.dropCounters());
  attempts.outcomes[`${kind}Closed`] = endpoint.closed;
}
console.log(JSON.stringify(attempts.outcomes));
