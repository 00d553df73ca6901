/**
 * One datapath engine in a namespace with one tunnel from SPEC (JSON: a TunnelSpecInput whose
 * auth.key is hex). Prints `ready`, binding events as `event {...}`, and answers stdin lines
 * `<id> status`, `<id> probe <ms>` and `<id> quit` with `<id> <json>`.
 */
import { createInterface } from 'node:readline';
import { DatapathEngine } from '../../shared/datapath/datapath-engine.js';
import { nativeDatapathIo } from '../../shared/datapath/native-datapath-io.js';
import type { TunnelAuthInput, TunnelSpecInput } from '../../shared/datapath/tunnel-spec.js';
import { scriptArgs } from './script-args.js';

/** The spec as the test writes it: the tunnel's input with its key in hex. */
export type EngineHostSpec = Omit<TunnelSpecInput, 'auth'> & { auth: Omit<TunnelAuthInput, 'key'> & { key: string } };

const given = JSON.parse(scriptArgs('spec').spec) as EngineHostSpec;
const spec: TunnelSpecInput = { ...given, auth: { ...given.auth, key: Buffer.from(given.auth.key, 'hex') } };
const engine = new DatapathEngine(nativeDatapathIo, { onBinding: (event) => console.log(`event ${JSON.stringify(event)}`) });
await engine.addTunnel(spec);
console.log('ready');
for await (const line of createInterface({ input: process.stdin })) {
  const [id, op, arg] = line.split(' ');
  if (op === 'status') console.log(`${id} ${JSON.stringify(engine.tunnelStatus(spec.name))}`);
  else if (op === 'probe') console.log(`${id} ${JSON.stringify(await engine.probe(spec.name, { timeoutMs: Number(arg) }))}`);
  else if (op === 'quit') {
    await engine.close();
    console.log(`${id} true`);
    process.exit(0);
  }
}
