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
attempt('busyTun', () => openTun('tnt0'));
attempt('firstTunStillReads', () => {
  if (tun.readBatch(batch) !== 0) throw new Error('unexpected packet');
});
attempt('bindForeign', () => openUdpSocket('198.51.100.77', 0));
attempt('rawBindForeign', () => openRawSocket(47, '198.51.100.77'));
attempt('missingDevice', () => applyKernelChange({ kind: 'set-mtu', link: 'nosuchdev0', mtu: 1400 }));
attempt('badHeadroom', () => udp.readBatch(batch, 2048));
attempt('badCount', () => udp.writeBatch(batch, 5));
attempt('foreignBatch', () => udp.readBatch({ ...batch, data: Buffer.alloc(10) }));
batch.offsets[0] = 2000;
batch.lengths[0] = 100;
batch.addrs[0] = 0x7f000001;
batch.ports[0] = 9;
attempt('slotOverrun', () => udp.writeBatch(batch, 1));
for (const [kind, endpoint] of Object.entries(endpoints)) {
  endpoint.onReadable(() => undefined);
  endpoint.close();
  attempt(`${kind}CloseTwice`, () => endpoint.close());
  attempt(`${kind}Read`, () => endpoint.readBatch(batch));
  attempt(`${kind}Write`, () => endpoint.writeBatch(batch, 0));
  attempt(`${kind}Watch`, () => endpoint.onReadable(() => undefined));
  attempt(`${kind}Counters`, () => endpoint.dropCounters());
  attempts.outcomes[`${kind}Closed`] = endpoint.closed;
}
console.log(JSON.stringify(attempts.outcomes));
