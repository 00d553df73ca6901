/**
 * How late the hub's event loop answers, seen from outside: a role process in the hub's namespace
 * asks the admin listener for a page it does not have (404, answered at once by the loop) every
 * `EVERY_MS` over one kept-alive connection, and times each answer. A loop held up by synchronous
 * work answers late by as much.
 *   node admin-answer-probe.js PORT
 * Commands: `take` (the answers since the last take: count, p50, p99, max, failures; then starts over).
 */
import { Agent, request } from 'node:http';
import { serveRole } from './role-process.js';

/** What `take` answers, in ms. */
export interface AnswerTimes {
  count: number;
  p50: number;
  p99: number;
  max: number;
  failures: number;
}

const EVERY_MS = 250;
const TIMEOUT_MS = 30_000;

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error('usage: admin-answer-probe PORT');
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
let times: number[] = [];
let failures = 0;
let running = true;

/** One request: resolves with its answer time in ms, or undefined when it failed. */
function ask(): Promise<number | undefined> {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/answer-probe', agent, timeout: TIMEOUT_MS }, (res) => {
      res.resume().on('end', () => resolve(performance.now() - started));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

async function loop(): Promise<void> {
  while (running) {
    const answered = await ask();
    if (answered === undefined) failures++;
    else times.push(answered);
    await new Promise((resolve) => setTimeout(resolve, EVERY_MS));
  }
}

function take(): AnswerTimes {
  const sorted = times.sort((a, b) => a - b);
  const at = (q: number): number => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN);
  const result = { count: sorted.length, p50: at(0.5), p99: at(0.99), max: Math.round(sorted[sorted.length - 1] ?? NaN), failures };
  times = [];
  failures = 0;
  return result;
}

void loop();
serveRole({ take }, () => {
  running = false;
  agent.destroy();
});
