/**
 * A role of bench/nat-recovery.ts: runs the datapath engine in a namespace with the tunnels of
 * argv[2] (a JSON array of specs; an `auth.key` is hex), prints `ready`, then one JSON line per
 * binding event, until SIGTERM.
 */
import { DatapathEngine } from '../shared/datapath/datapath-engine.js';
import { nativeDatapathIo } from '../shared/datapath/native-datapath-io.js';
import type { TunnelSpecInput } from '../shared/datapath/tunnel-spec.js';

type BenchSpec = Omit<TunnelSpecInput, 'auth'> & { auth?: { bindingId: number; key: string; role: 'hub' | 'member' } };

const specs = JSON.parse(process.argv[2] ?? '[]') as BenchSpec[];
const engine = new DatapathEngine(nativeDatapathIo, { onBinding: (event) => console.log(JSON.stringify(event)) });
for (const spec of specs) {
  await engine.addTunnel({ ...spec, auth: spec.auth === undefined ? null : { ...spec.auth, key: Buffer.from(spec.auth.key, 'hex') } });
}
const stop = (): void => {
  void engine.close().finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
console.log('ready');
// Stay alive until SIGTERM whether or not the addon's poll handles hold the event loop.
setInterval(() => undefined, 60_000);
