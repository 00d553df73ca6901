/**
 * The hub's admin listener as seen from a role process in the hub's namespace (where it listens
 * on loopback). How late the event loop answers: a page the listener does not have (404, answered
 * at once by the loop) is asked for every `EVERY_MS` over one kept-alive connection and each
 * answer timed; a loop held up by synchronous work answers late by as much. Also reads values of
 * /metrics, and watches the status page's event stream as an operator's browser would.
 *   node admin-listener-probe.js PORT
 * Commands: `take` (the answers since the last take: count, p50, p99, max, failures; then starts
 * over), `metrics` (named series' values), `watchEvents`, `events` (updates the stream sent).
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

/** Values of unlabelled series in /metrics, by name (NaN when absent). */
export type MetricValues = Record<string, number>;

const EVERY_MS = 250;
const TIMEOUT_MS = 30_000;

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error('usage: admin-listener-probe PORT');
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
let times: number[] = [];
let failures = 0;
let running = true;
let events = 0;
let stream: ReturnType<typeof request> | undefined;

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

/** The values of the series named in `args.names`, from one scrape. */
function metrics(args: { names: string[] }): Promise<MetricValues> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/metrics', timeout: TIMEOUT_MS }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk)).on('end', () => {
        resolve(Object.fromEntries(args.names.map((name) => [name, Number(new RegExp(`^${name} (\\S+)`, 'm').exec(body)?.[1] ?? NaN)])));
      });
    }).on('error', reject).end();
  });
}

/** Opens the status page's event stream and counts the updates it sends. */
function watchEvents(): boolean {
  stream?.destroy();
  stream = request({ host: '127.0.0.1', port, path: '/events' }, (res) => {
    res.setEncoding('utf8').on('data', (chunk: string) => {
      events += chunk.split('\n\n').filter((frame) => /^data: /m.test(frame)).length;
    });
  });
  stream.on('error', () => undefined);
  stream.end();
  return true;
}

void loop();
serveRole({ take, metrics, watchEvents, events: () => events }, () => {
  running = false;
  stream?.destroy();
  agent.destroy();
});
