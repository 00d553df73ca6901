/**
 * One of two processes allocating at the same moment: opens the registry DATABASE (a SQLite file
 * or a PostgreSQL URL), prints `ready`, waits for a line on stdin (the shared start signal), then
 * adds COUNT peers named PREFIX-0, PREFIX-1, … one transaction at a time, as a `tunnel-hub peer
 * add` loop (or a hub) would, and prints `done`.
 */
import { createInterface } from 'node:readline';
import { Registry } from '../../server/registry/registry.js';
import { scriptArgs } from './script-args.js';

const { database, prefix, count } = scriptArgs('database', 'prefix', 'count');
const registry = await Registry.open(database);
const lines = createInterface({ input: process.stdin });
const go = new Promise((started) => lines.once('line', started));
process.stdout.write('ready\n');
await go;
lines.close();
for (let i = 0; i < Number(count); i++) await registry.peers.add({ name: `${prefix}-${i}` });
await registry.close();
process.stdout.write('done\n');
