/** Listens on the unix socket SOCKET_PATH and does nothing else (a process holding a path); prints `ready`. */
import { createServer } from 'node:net';
import { scriptArgs } from './script-args.js';

const { socketPath } = scriptArgs('socketPath');
createServer().listen(socketPath, () => console.log('ready'));
