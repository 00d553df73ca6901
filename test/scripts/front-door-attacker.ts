/**
 * The front-door attacker, from one address. Phase 1 opens CONNECTIONS connections to HOST's
 * WebSocket port, 100 at a time, each sending half an HTTP request and then nothing (slowloris),
 * and holds them until the hub closes them (at most 20 s). Phase 2 tries LOGINS WebSocket
 * upgrades with forged tokens, one after the other, each given 3 s. Prints `ready` when it
 * starts, then one JSON line of what happened.
 */
import { connect } from 'node:net';
import WebSocket from 'ws';
import { scriptArgs } from './script-args.js';

/** How each connection and upgrade ended. */
export interface AttackOutcome {
  refusedAtOnce: number;
  closedLater: number;
  stillOpen: number;
  /** Upgrade answers by HTTP status ('101' accepted, 'closed' without an answer). */
  upgrades: Record<string, number>;
}

const { host, connections, logins } = scriptArgs('host', 'connections', 'logins');
console.log('ready');
const outcome: AttackOutcome = { refusedAtOnce: 0, closedLater: 0, stillOpen: 0, upgrades: {} };

function open(done: () => void): void {
  const started = Date.now();
  const socket = connect({ host, port: 8443 });
  let settled = false;
  const finish = (kind: 'refusedAtOnce' | 'closedLater' | 'stillOpen'): void => {
    if (settled) return;
    settled = true;
    outcome[kind] += 1;
    socket.destroy();
    done();
  };
  socket.on('connect', () => socket.write('GET / HTTP/1.1\r\nHost: hub\r\nX-Slow: '));
  socket.on('error', () => undefined);
  socket.on('close', () => finish(Date.now() - started < 500 ? 'refusedAtOnce' : 'closedLater'));
  setTimeout(() => finish('stillOpen'), 20_000);
}

let next = 0;
await new Promise<void>((resolve) => {
  let running = 0;
  const pump = (): void => {
    while (running < 100 && next < Number(connections)) {
      next += 1;
      running += 1;
      open(() => {
        running -= 1;
        if (next >= Number(connections) && running === 0) resolve();
        else pump();
      });
    }
  };
  pump();
});
for (let i = 0; i < Number(logins); i++) {
  const status = await new Promise<string>((resolve) => {
    const ws = new WebSocket(`ws://${host}:8443`, { headers: { authorization: `Bearer forged.${i}.token` }, handshakeTimeout: 3_000 });
    ws.on('unexpected-response', (_request, response) => {
      resolve(String(response.statusCode));
      ws.terminate();
    });
    ws.on('open', () => {
      resolve('101');
      ws.terminate();
    });
    ws.on('error', () => resolve('closed'));
  });
  outcome.upgrades[status] = (outcome.upgrades[status] ?? 0) + 1;
}
console.log(JSON.stringify(outcome));
