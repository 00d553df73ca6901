/** Watches a UDP socket, then unref()s it: the process must still exit by itself. Prints {open}. */
import { openUdpSocket } from '../../native/index.js';

const socket = openUdpSocket('127.0.0.1', 0);
socket.onReadable(() => undefined);
socket.unref();
console.log(JSON.stringify({ open: !socket.closed }));
