/** On 192.0.2.2:PORT, echoes every datagram back to its source until one says "stop"; prints `ready`, then {echoed}. */
import { createPacketBatch, openUdpSocket } from '../../native/index.js';
import { slotBytes } from './batch-slots.js';
import { scriptArgs } from './script-args.js';

const { port } = scriptArgs('port');
const socket = openUdpSocket('192.0.2.2', Number(port));
const batch = createPacketBatch(64, 2048);
let echoed = 0;
socket.onReadable(() => {
  for (;;) {
    const n = socket.readBatch(batch);
    if (n === 0) return;
    if (slotBytes(batch, n - 1).toString() === 'stop') {
      socket.close();
      console.log(JSON.stringify({ echoed }));
      return;
    }
    // Sources become destinations: addrs/ports already hold them.
    const accepted = socket.writeBatch(batch, n);
    if (accepted !== n) throw new Error(`short echo write ${accepted}`);
    echoed += n;
  }
});
console.log('ready');
