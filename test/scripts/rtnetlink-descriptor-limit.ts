/**
 * Run under a low RLIMIT_NOFILE: takes every free descriptor, then asks for a batch, then frees 16
 * and asks again. Prints { async, afterwards }.
 */
import { closeSync, openSync } from 'node:fs';
import { listRtnetlinkLinks, runRtnetlinkBatch } from '../../native/index.js';
import { batch, briefRefusal, type BriefRtnetlinkOutcome, type RtnetlinkRefusal } from './rtnetlink-outcomes.js';

await listRtnetlinkLinks('lo'); // the addon is loaded before the descriptors run out
const held: number[] = [];
try {
  for (;;) held.push(openSync('/dev/null', 'r'));
} catch {
  // EMFILE: none left, as intended.
}
let refused: 'ok' | RtnetlinkRefusal;
try {
  await runRtnetlinkBatch([{ op: 'set-up', link: 'lo', up: true }]);
  refused = 'ok';
} catch (err) {
  refused = briefRefusal(err);
}
for (const fd of held.splice(0, 16)) closeSync(fd);
const afterwards: BriefRtnetlinkOutcome[] = await batch([{ op: 'set-up', link: 'lo', up: true }]);
for (const fd of held) closeSync(fd);
console.log(JSON.stringify({ async: refused, afterwards }));
