/** Listens on the unix socket SOCKET_PATH and pipes each connection to 127.0.0.1:PORT; prints `ready`. */
import { connect, createServer } from 'node:net';
import { scriptArgs } from './script-args.js';

const { socketPath, port } = scriptArgs('socketPath', 'port');
createServer((socket) => {
  const inner = connect(Number(port), '127.0.0.1');
  socket.pipe(inner).pipe(socket);
  const end = (): void => {
    socket.destroy();
    inner.destroy();
  };
  socket.on('error', end);
  inner.on('error', end);
  socket.on('close', end);
  inner.on('close', end);
}).listen(socketPath, () => console.log('ready'));
