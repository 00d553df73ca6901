import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNamespaces, deleteNamespaces, execInAsync, runNodeIn, uniquePrefix } from '../helpers/netns.js';
import { netnsUnavailableReason } from '../helpers/root.js';
import { testScript } from '../helpers/test-scripts.js';

const skipReason = netnsUnavailableReason();
if (skipReason) console.warn(`SKIPPED native error-path tests: ${skipReason}`);

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
      testScript('native-refusals-unprivileged'),
    ]);
    expect(result.stderr).toBe('');
    const outcomes = JSON.parse(result.stdout) as Record<string, { code: string; message: string } | 'ok'>;
    expect(outcomes.tun).toEqual({ code: 'ERR_PERMISSION', message: expect.stringContaining('needs root or CAP_NET_ADMIN') });
    expect(outcomes.raw).toEqual({ code: 'ERR_PERMISSION', message: expect.stringContaining('needs root or CAP_NET_RAW') });
    expect(outcomes.mtu).toEqual({ code: 'ERR_PERMISSION', message: expect.stringContaining('needs root or CAP_NET_ADMIN') });
    expect(outcomes.udp).toBe('ok');
  });

  it('refuses busy names, foreign addresses, missing devices, bad batches and any use after close', async () => {
    const outcomes = (await runNodeIn(namespace, testScript('native-refusals'))) as Record<string, unknown>;
    const failed = (code: string, text?: string): unknown => ({ code, message: text ? expect.stringContaining(text) : expect.any(String) });
    expect(outcomes).toEqual({
      busyTun: failed('ERR_ALREADY_EXISTS', 'an interface named tnt0 exists already'),
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
    expect(await runNodeIn(namespace, testScript('native-unref-watch'), [], 20_000)).toEqual({ open: true });
  });
});
