import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNamespaces, deleteNamespaces, execIn, execInAsync, runNodeIn, uniquePrefix } from '../helpers/netns.js';
import { netnsUnavailableReason } from '../helpers/root.js';
import { testScript } from '../helpers/test-scripts.js';
import type { HubRestartedRun } from '../scripts/hub-devices-run.js';

const skipReason = netnsUnavailableReason();
if (skipReason) console.warn(`SKIPPED hub device ownership tests: ${skipReason}`);

// The hub's engine owns its devices (link group + alias "tunnel-hub:<id>"): a device it does not
// own costs only the tunnel that wanted its name, and a run killed with -9 and started again
// makes every tunnel anew, removing what it left behind and nothing of anyone else's.
const MEMBERS = 50;
const ALIAS = 'tunnel-hub:SHA256:netns-test';

describe.skipIf(skipReason)('hub device ownership across a kill -9 (netns)', () => {
  const namespace = `${uniquePrefix()}own`;

  beforeAll(() => {
    createNamespaces([namespace]);
    execIn(namespace, 'ip', ['link', 'set', 'lo', 'up']);
    execIn(namespace, 'ip', ['link', 'add', 'out0', 'type', 'veth', 'peer', 'name', 'out1']);
    execIn(namespace, 'ip', ['addr', 'add', '192.0.2.1/24', 'dev', 'out0']);
    execIn(namespace, 'ip', ['link', 'set', 'out0', 'up']);
    execIn(namespace, 'ip', ['link', 'set', 'out1', 'up']);
  });
  afterAll(() => deleteNamespaces([namespace]));

  it('a killed run is restarted: everything is made anew, its leftovers removed, other devices left alone and their names refused to that tunnel only', async () => {
    const killed = await execInAsync(namespace, process.execPath, [testScript('hub-devices-run'), 'killed', ALIAS, String(MEMBERS)]);
    // Killed, not exited: null (by a signal) or 137 (a shell's report of SIGKILL).
    expect([null, 137]).toContain(killed.code);
    const first = JSON.parse(killed.stdout.trim().split('\n').at(-1)!) as { ok: number; group: number };
    expect(first.ok).toBe(MEMBERS);

    // Left behind as a crash can leave them: a persistent device of this hub's, marked as its own,
    // with a name the restarted run does not ask for.
    execIn(namespace, 'ip', ['tuntap', 'add', 'mode', 'tun', 'name', 'tnl-stale1']);
    execIn(namespace, 'ip', ['link', 'set', 'tnl-stale1', 'group', String(first.group), 'alias', ALIAS]);
    // Not the hub's: one holding the name of a tunnel the restarted run asks for, and one of another hub's.
    execIn(namespace, 'ip', ['tuntap', 'add', 'mode', 'tun', 'name', `tnl-m${MEMBERS}`]);
    execIn(namespace, 'ip', ['tuntap', 'add', 'mode', 'tun', 'name', 'tnl-other']);
    execIn(namespace, 'ip', ['link', 'set', 'tnl-other', 'group', '7', 'alias', 'tunnel-hub:SHA256:another-hub']);

    const result = (await runNodeIn(namespace, testScript('hub-devices-run'), ['restarted', ALIAS, String(MEMBERS)], 120_000)) as HubRestartedRun;
    expect(result.stale).toContain('tnl-stale1');
    expect(result.stale.every((name) => name === 'tnl-stale1' || /^tnl-m\d+$/.test(name))).toBe(true);
    expect(result.ok).toBe(MEMBERS);
    expect(result.refused).toEqual([[MEMBERS, expect.stringMatching(new RegExp(`^ERR_ALREADY_EXISTS: an interface named tnl-m${MEMBERS} exists and is not this process's`))]]);
    expect(result.running).toBe(MEMBERS);
    expect(result.ownMarked).toBe(MEMBERS);
    expect(result.othersWhileRunning).toEqual([`tnl-m${MEMBERS}`, 'tnl-other']);
    expect(result.leftAfterClose).toEqual([`tnl-m${MEMBERS}`, 'tnl-other']);
    const other = JSON.parse(execIn(namespace, 'ip', ['-j', '-d', 'link', 'show', 'dev', 'tnl-other'])) as { ifalias?: string }[];
    expect(other[0]?.ifalias).toBe('tunnel-hub:SHA256:another-hub');
  });
});
