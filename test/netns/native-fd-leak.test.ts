import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNamespaces, deleteNamespaces, runNodeIn, uniquePrefix } from '../helpers/netns.js';
import { netnsUnavailableReason } from '../helpers/root.js';
import { testScript } from '../helpers/test-scripts.js';

const skipReason = netnsUnavailableReason();
if (skipReason) console.warn(`SKIPPED native descriptor-leak test: ${skipReason}`);

describe.skipIf(skipReason)('native descriptors (netns)', () => {
  const namespace = `${uniquePrefix()}fd`;

  beforeAll(() => createNamespaces([namespace]));
  afterAll(() => deleteNamespaces([namespace]));

  it('1,000 open/close cycles of TUN devices and UDP sockets leak no descriptors or devices', async () => {
    const result = (await runNodeIn(namespace, testScript('native-open-close-cycles'), ['1000'], 120_000)) as {
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
