/**
 * One run of a hub's engine owning its devices (owner ALIAS) with MEMBERS GRE tunnels tnl-m<i>.
 * MODE `killed`: makes the tunnels, prints { ok, group } and dies by SIGKILL (nothing of the
 * engine's shutdown runs). MODE `restarted`: removes its stale devices, makes every tunnel, reads
 * the links back with `ip -j -d`, closes, and prints a HubRestartedRun line.
 */
import { DatapathEngine } from '../../shared/datapath/datapath-engine.js';
import { deviceOwner } from '../../shared/datapath/device-owner.js';
import { nativeDatapathIo } from '../../shared/datapath/native-datapath-io.js';
import type { TunnelSpecInput } from '../../shared/datapath/tunnel-spec.js';
import { ipJson, type IpLink } from './ip-json.js';
import { scriptArgs } from './script-args.js';

/** What a restarted run saw. */
export interface HubRestartedRun {
  stale: string[];
  ok: number;
  /** [index, "CODE: message"] of each tunnel refused. */
  refused: [number, string][];
  running: number;
  ownMarked: number;
  othersWhileRunning: string[];
  leftAfterClose: string[];
}

const args = scriptArgs('mode', 'alias', 'members');
const members = Number(args.members);
const owner = deviceOwner(args.alias);
const engine = new DatapathEngine(nativeDatapathIo, { owner });
const spec = (i: number): TunnelSpecInput => ({
  name: `tnl-m${i}`, encap: 'gre', local: '192.0.2.1', remote: '198.51.100.1', key: i + 1,
  address: `10.9.${i}.1/30`, peerAddress: `10.9.${i}.2`, keepaliveInterval: 0,
});
const outcome = (p: Promise<unknown>): Promise<string> => p.then(() => 'ok', (err: { code: string; message: string }) => `${err.code}: ${err.message}`);
const addAll = (count: number): Promise<string[]> => Promise.all(Array.from({ length: count }, (_, i) => outcome(engine.addTunnel(spec(i)))));

if (args.mode === 'killed') {
  const outcomes = await addAll(members);
  console.log(JSON.stringify({ ok: outcomes.filter((o) => o === 'ok').length, group: owner.group }));
  process.kill(process.pid, 'SIGKILL');
} else {
  const links = (): { name: string; group: string | undefined; alias: string | null }[] => ipJson<IpLink>('-d', 'link', 'show')
    .filter((l) => l.ifname.startsWith('tnl-')).map((l) => ({ name: l.ifname, group: l.group, alias: l.ifalias ?? null }));
  const stale = (await engine.removeStaleDevices()).sort();
  // One more than the killed run: its name is held by a device that is not this hub's.
  const outcomes = await addAll(members + 1);
  const running = engine.status().length;
  const ownMarked = links().filter((l) => l.alias === owner.alias && l.group === String(owner.group)).length;
  const othersWhileRunning = links().filter((l) => l.alias !== owner.alias).map((l) => l.name).sort();
  await engine.close();
  const result: HubRestartedRun = {
    stale, ok: outcomes.filter((o) => o === 'ok').length,
    refused: outcomes.map((o, i): [number, string] => [i, o]).filter(([, o]) => o !== 'ok'),
    running, ownMarked, othersWhileRunning, leftAfterClose: links().map((l) => l.name).sort(),
  };
  console.log(JSON.stringify(result));
}
