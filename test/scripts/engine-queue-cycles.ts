/**
 * With TUNNEL_QUEUES=2, adds and removes a gre tunnel LOCAL -> REMOTE CYCLES times on the real
 * engine, counting the process's descriptors and threads (the forwarding threads are named
 * tc-forward-<queue>) before and after.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { scriptArgs } from './script-args.js';

// Set before the engine is loaded, as a service's environment would be.
process.env['TUNNEL_QUEUES'] = '2';
const { DatapathEngine } = await import('../../shared/datapath/datapath-engine.js');
const { nativeDatapathIo } = await import('../../shared/datapath/native-datapath-io.js');
const { local, remote, cycles } = scriptArgs('local', 'remote', 'cycles');
const engine = new DatapathEngine(nativeDatapathIo);
const spec = { name: 'tnl-mq', encap: 'gre' as const, local, remote, address: '10.79.0.1/30', peerAddress: '10.79.0.2', keepaliveInterval: 0 };
const fds = (): number => readdirSync('/proc/self/fd').length;
const tasks = (): string[] => readdirSync('/proc/self/task');
const forwarders = (): string[] => tasks().map((task) => {
  try {
    return readFileSync(`/proc/self/task/${task}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}).filter((name) => name.startsWith('tc-forward-')).sort();
// A short pause after each add or remove, as between a hub's reconfigurations.
const settle = (): Promise<void> => sleep(20);
// The first tunnel starts the forwarding threads (kept for the process's life) and loads the addon.
await engine.addTunnel(spec);
await settle();
const queues = engine.tunnelStatus('tnl-mq').queues;
const running = forwarders();
await engine.removeTunnel('tnl-mq');
await settle();
const before = { fds: fds(), tasks: tasks().length };
let openFds = 0;
for (let i = 0; i < Number(cycles); i++) {
  await engine.addTunnel(spec);
  if (i === 0) openFds = fds();
  await settle();
  await engine.removeTunnel('tnl-mq');
}
await settle();
const after = { fds: fds(), tasks: tasks().length };
console.log(JSON.stringify({ queues, running, before, openFds, after, forwardersAfter: forwarders(), leftover: existsSync('/sys/class/net/tnl-mq') }));
