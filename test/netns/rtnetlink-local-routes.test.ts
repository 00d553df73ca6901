import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNamespaces, deleteNamespaces, runNodeIn, uniquePrefix } from '../helpers/netns.js';
import { netnsUnavailableReason } from '../helpers/root.js';
import { testScript } from '../helpers/test-scripts.js';
import type { RtnetlinkLocalRoutes } from '../scripts/rtnetlink-local-routes.js';

const skipReason = netnsUnavailableReason();
if (skipReason) console.warn(`SKIPPED rtnetlink local route tests: ${skipReason}`);

describe.skipIf(skipReason)('rtnetlink local routes and route sources against the kernel (netns)', () => {
  const namespace = `${uniquePrefix()}rtlr`;

  beforeAll(() => createNamespaces([namespace]));
  afterAll(() => deleteNamespaces([namespace]));

  it('installs a local route in table local and a route with a source the host holds, refuses one it does not, deletes both', async () => {
    const result = (await runNodeIn(namespace, testScript('rtnetlink-local-routes'))) as RtnetlinkLocalRoutes;
    expect(result.added).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect(result.local4).toEqual([{ type: 'local', dst: '10.9.0.1', scope: 'host', table: 'local' }]);
    expect(result.main4).toEqual([{ dst: '10.9.0.0/30', prefsrc: '10.9.0.1', scope: 'link' }]);
    // The host takes the hub's end as its own and sends to the member's end from it.
    expect(result.getLocal).toEqual({ type: 'local', prefsrc: '10.9.0.1' });
    expect(result.getPeer).toEqual({ type: 'unicast', dev: 'v0', prefsrc: '10.9.0.1' });
    expect(result.local6).toEqual([{ type: 'local', dst: '2001:db8:9::1' }]);
    // IPv4 wants the source held (an address or a local route); IPv6 an address on an interface.
    expect(result.refused).toEqual([
      { code: 'ERR_SYSTEM', errno: 22, interfaceName: 'v0', message: 'adding route 10.9.1.0/30 metric 0 via v0 src 10.9.1.1: Invalid argument: Invalid prefsrc address' },
      { code: 'ERR_SYSTEM', errno: 22, interfaceName: 'v0', message: 'adding route 2001:db8:9::/64 metric 0 via v0 src 2001:db8:9::1: Invalid argument: Invalid source address' },
    ]);
    expect(result.deleted).toEqual(['ok', 'ok', 'ok']);
    expect(result.left4).toBe(0);
    expect(result.left6).toBe(0);
    expect(result.deletedAgain).toEqual([{ code: 'ERR_SYSTEM', errno: 3, interfaceName: 'v0', message: 'deleting local route 10.9.0.1/32 metric 0 via v0: No such process' }]);
    expect(result.otherFamily).toEqual({ code: 'ERR_INVALID_ADDRESS', errno: null, message: 'route source 2001:db8:9::1 is not of the family of 10.9.0.0' });
    expect(result.unreachableWithSource).toEqual({ code: 'ERR_INVALID_ARGUMENT', errno: null, message: 'an unreachable route (10.9.0.0/30) has no source and is not local' });
  });
});
