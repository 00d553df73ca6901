import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNamespaces, deleteNamespaces, distUrl, execInAsync, runNodeIn, uniquePrefix } from '../helpers/netns.js';
import { netnsUnavailableReason } from '../helpers/root.js';

const skipReason = netnsUnavailableReason();
if (skipReason) console.warn(`SKIPPED native error-path tests: ${skipReason}`);

const nativeUrl = distUrl('native/index.js');
const kernelUrl = distUrl('shared/system/apply-kernel-change.js');

// Runs each attempt and reports the TunnelError code and message it raised (or 'ok').
const attemptsPrelude = `
import * as native from '${nativeUrl}';
import { applyKernelChange } from '${kernelUrl}';
const outcomes = {};
function attempt(label, action) {
  try { action(); outcomes[label] = 'ok'; }
  catch (err) { outcomes[label] = { code: err.code, message: err.message }; }
}
`;

const unprivilegedScript = `${attemptsPrelude}
attempt('tun', () => native.openTun('tnt0'));
attempt('raw', () => native.openRawSocket(47, '127.0.0.1'));
attempt('mtu', () => applyKernelChange({ kind: 'set-mtu', link: 'lo', mtu: 1400 }));
attempt('udp', () => native.openUdpSocket('127.0.0.1', 0).close());
console.log(JSON.stringify(outcomes));
`;

const privilegedScript = `${attemptsPrelude}
const batch = native.createPacketBatch(4, 2048);
const endpoints = {
  tun: native.openTun('tnt0'),
  udp: native.openUdpSocket('127.0.0.1', 0),
  raw: native.openRawSocket(47, '127.0.0.1'),
};
// A second non-multi-queue open of a busy name fails and leaves the first device working.
attempt('busyTun', () => native.openTun('tnt0'));
attempt('firstTunStillReads', () => { if (endpoints.tun.readBatch(batch) !== 0) throw new Error('unexpected packet'); });
attempt('bindForeign', () => native.openUdpSocket('198.51.100.77', 0));
attempt('rawBindForeign', () => native.openRawSocket(47, '198.51.100.77'));
attempt('missingDevice', () => applyKernelChange({ kind: 'set-mtu', link: 'nosuchdev0', mtu: 1400 }));
attempt('badHeadroom', () => endpoints.udp.readBatch(batch, 2048));
attempt('badCount', () => endpoints.udp.writeBatch(batch, 5));
attempt('foreignBatch', () => endpoints.udp.readBatch({ ...batch, data: Buffer.alloc(10) }));
batch.offsets[0] = 2000; batch.lengths[0] = 100; batch.addrs[0] = 0x7f000001; batch.ports[0] = 9;
attempt('slotOverrun', () => endpoints.udp.writeBatch(batch, 1));
for (const [kind, endpoint] of Object.entries(endpoints)) {
  endpoint.onReadable(() => {});
  endpoint.close();
  attempt(kind + 'CloseTwice', () => endpoint.close());
  attempt(kind + 'Read', () => endpoint.readBatch(batch));
  attempt(kind + 'Write', () => endpoint.writeBatch(batch, 0));
  attempt(kind + 'Watch', () => endpoint.onReadable(() => {}));
  attempt(kind + 'Counters', () => endpoint.dropCounters());
  outcomes[kind + 'Closed'] = endpoint.closed;
}
// The closed watches must not keep this process alive: it has to exit by itself.
console.log(JSON.stringify(outcomes));
`;

const unrefScript = `
import { openUdpSocket } from '${nativeUrl}';
const socket = openUdpSocket('127.0.0.1', 0);
socket.onReadable(() => {});
socket.unref();
console.log(JSON.stringify({ open: !socket.closed }));
`;

describe.skipIf(skipReason)('native error paths (netns)', () => {
  const namespace = `${uniquePrefix()}err`;

  beforeAll(() => createNamespaces([namespace]));
  afterAll(() => deleteNamespaces([namespace]));

  it('without privilege, TUN, raw sockets and link changes fail with ERR_PERMISSION; UDP still works', async () => {
    const result = await execInAsync(namespace, 'setpriv', [
      '--reuid=nobody',
      '--regid=nogroup',
      '--clear-groups',
      '--inh-caps=-all',
      '--bounding-set=-all',
      process.execPath,
      '--input-type=module',
      '-e',
      unprivilegedScript,
    ]);
    expect(result.stderr).toBe('');
    const outcomes = JSON.parse(result.stdout) as Record<string, { code: string; message: string } | 'ok'>;
    expect(outcomes.tun).toEqual({ code: 'ERR_PERMISSION', message: expect.stringContaining('needs root or CAP_NET_ADMIN') });
    expect(outcomes.raw).toEqual({ code: 'ERR_PERMISSION', message: expect.stringContaining('needs root or CAP_NET_RAW') });
    expect(outcomes.mtu).toEqual({ code: 'ERR_PERMISSION', message: expect.stringContaining('needs root or CAP_NET_ADMIN') });
    expect(outcomes.udp).toBe('ok');
  });

  it('refuses busy names, foreign addresses, missing devices, bad batches and any use after close', async () => {
    const outcomes = (await runNodeIn(namespace, privilegedScript)) as Record<string, unknown>;
    const failed = (code: string, text?: string): unknown => ({ code, message: text ? expect.stringContaining(text) : expect.any(String) });
    expect(outcomes).toEqual({
      busyTun: failed('ERR_SYSTEM', 'Device or resource busy'),
      firstTunStillReads: 'ok',
      bindForeign: failed('ERR_SYSTEM', 'Cannot assign requested address'),
      rawBindForeign: failed('ERR_SYSTEM', 'Cannot assign requested address'),
      missingDevice: failed('ERR_DEVICE_NOT_FOUND', 'nosuchdev0'),
      badHeadroom: failed('ERR_INVALID_ARGUMENT', 'headroom'),
      badCount: failed('ERR_INVALID_ARGUMENT', 'count'),
      foreignBatch: failed('ERR_INVALID_ARGUMENT', 'packet batch'),
      slotOverrun: failed('ERR_INVALID_ARGUMENT', 'runs past the slot'),
      ...Object.fromEntries(
        ['tun', 'udp', 'raw'].flatMap((kind) => [
          [`${kind}CloseTwice`, 'ok'],
          [`${kind}Read`, failed('ERR_CLOSED', 'closed')],
          [`${kind}Write`, failed('ERR_CLOSED', 'closed')],
          [`${kind}Watch`, failed('ERR_CLOSED', 'closed')],
          [`${kind}Counters`, failed('ERR_CLOSED', 'closed')],
          [`${kind}Closed`, true],
        ]),
      ),
    });
  });

  it('an unref()ed watch does not keep the event loop alive', async () => {
    expect(await runNodeIn(namespace, unrefScript, [], 20_000)).toEqual({ open: true });
  });
});
