import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNamespaces, deleteNamespaces, distUrl, execIn, execInAsync, runNodeScriptIn, uniquePrefix } from '../helpers/netns.js';
import { netnsUnavailableReason } from '../helpers/root.js';

const skipReason = netnsUnavailableReason();
if (skipReason) console.warn(`SKIPPED hub device ownership tests: ${skipReason}`);

// The hub's engine owns its devices (link group + alias "tunnel-hub:<id>"): a device it does not
// own costs only the tunnel that wanted its name, and a run killed with -9 and started again
// makes every tunnel anew, removing what it left behind and nothing of anyone else's.
const MEMBERS = 50;
const ALIAS = 'tunnel-hub:SHA256:netns-test';

const prelude = `
import { DatapathEngine } from '${distUrl('shared/datapath/datapath-engine.js')}';
import { deviceOwner } from '${distUrl('shared/datapath/device-owner.js')}';
import { nativeDatapathIo } from '${distUrl('shared/datapath/native-datapath-io.js')}';
const owner = deviceOwner(${JSON.stringify(ALIAS)});
const engine = new DatapathEngine(nativeDatapathIo, { owner });
const spec = (i) => ({
  name: 'tnl-m' + i, encap: 'gre', local: '192.0.2.1', remote: '198.51.100.1', key: i + 1,
  address: '10.9.' + i + '.1/30', peerAddress: '10.9.' + i + '.2', keepaliveInterval: 0,
});
const outcome = (p) => p.then(() => 'ok', (err) => err.code + ': ' + err.message);
`;

/** Makes the tunnels, says so, and dies by SIGKILL: nothing of the engine's shutdown runs. */
const killedRun = `${prelude}
const outcomes = await Promise.all(Array.from({ length: ${MEMBERS} }, (_, i) => outcome(engine.addTunnel(spec(i)))));
console.log(JSON.stringify({ ok: outcomes.filter((o) => o === 'ok').length, group: owner.group }));
process.kill(process.pid, 'SIGKILL');
`;

/** Starts again: removes its stale devices, makes every tunnel (one more than before), then stops cleanly. */
const restartedRun = `${prelude}
import { execFileSync } from 'node:child_process';
const links = () => JSON.parse(execFileSync('ip', ['-j', '-d', 'link', 'show'], { encoding: 'utf8' }))
  .filter((l) => l.ifname.startsWith('tnl-')).map((l) => ({ name: l.ifname, group: l.group, alias: l.ifalias ?? null }));
const result = {};
result.stale = (await engine.removeStaleDevices()).sort();
const outcomes = await Promise.all(Array.from({ length: ${MEMBERS + 1} }, (_, i) => outcome(engine.addTunnel(spec(i)))));
result.ok = outcomes.filter((o) => o === 'ok').length;
result.refused = outcomes.map((o, i) => [i, o]).filter(([, o]) => o !== 'ok');
result.running = engine.status().length;
result.ownMarked = links().filter((l) => l.alias === owner.alias && l.group === String(owner.group)).length;
result.othersWhileRunning = links().filter((l) => l.alias !== owner.alias).map((l) => l.name).sort();
await engine.close();
result.leftAfterClose = links().map((l) => l.name).sort();
console.log(JSON.stringify(result));
`;

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
    const killed = await execInAsync(namespace, process.execPath, ['--input-type=module', '-e', killedRun]);
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

    const result = (await runNodeScriptIn(namespace, restartedRun, [], 120_000)) as Record<string, unknown>;
    expect(result.stale).toContain('tnl-stale1');
    expect((result.stale as string[]).every((name) => name === 'tnl-stale1' || /^tnl-m\d+$/.test(name))).toBe(true);
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
