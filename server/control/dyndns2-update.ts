import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { TunnelError, isTunnelError } from '../../shared/errors.js';
import { isIpv4Address } from '../../shared/net/ipv4-address.js';
import { ERROR_HEADER } from '../../shared/protocol/index.js';
import { remoteOuterAddress } from './remote-outer-address.js';
import { TokenBucketLimiter, type RateLimit } from './token-bucket-limiter.js';

/** The path routers call, as every dyndns2 client does. */
export const DYNDNS2_PATH = '/nic/update';

/** Per peer (authenticated updates) and per source address (every request). */
export interface Dyndns2Limits {
  perPeer: RateLimit;
  perSource: RateLimit;
}

/**
 * A peer may update 5 times at once, then once a minute; a source address may ask 20 times at
 * once, then every 3 s. Routers update on WAN events only, so neither is ever reached in use.
 */
export const DEFAULT_DYNDNS2_LIMITS: Dyndns2Limits = {
  perPeer: { burst: 5, refillMs: 60_000 },
  perSource: { burst: 20, refillMs: 3_000 },
};

/** What the update needs from the hub. */
export interface Dyndns2Deps {
  /** `active`, `revoked`, or `unknown` for no such peer. */
  peerState(peer: string): Promise<'active' | 'revoked' | 'unknown'>;
  /** True when `key` is the peer's current dyndns2 key. */
  verifyKey(peer: string, key: string): Promise<boolean>;
  /** The last address the hub verified for the peer, or null. */
  latestEndpoint(peer: string): Promise<string | null>;
  /** Records `seen` and reconfigures the hub's end (the same path as SSH `endpoint`). */
  reportEndpoint(peer: string, seen: string): Promise<void>;
  limits?: Dyndns2Limits;
  clock?: () => number;
  log: Logger;
}

/** One dyndns2 answer: the HTTP status, the plain-text line, and the coded reason of a refusal. */
interface Answer {
  status: number;
  text: string;
  code?: TunnelError['code'];
  message?: string;
  retryAfterMs?: number;
}

/**
 * The dyndns2 update (`GET /nic/update?hostname=NAME[&myip=ADDR]`, HTTP Basic NAME:KEY) on the
 * hub's WebSocket listener. The hub aims tunnels only at addresses it has seen, so the address
 * taken is the request's source: a `myip` that differs is answered `abuse` and changes nothing.
 * Answers: `good ADDR` / `nochg ADDR` (200), `badauth` (401; 403 for a revoked peer), `nohost`
 * (404), `abuse` (403 foreign myip, 429 rate limit, 409 when another keyless GRE router already
 * comes from that address), `notfqdn` / `badagent` (400/405 malformed),
 * `911` (500). Every refusal is decided before anything is written.
 */
export function createDyndns2Handler(deps: Dyndns2Deps): (request: IncomingMessage, response: ServerResponse) => void {
  const limits = deps.limits ?? DEFAULT_DYNDNS2_LIMITS;
  const perPeer = new TokenBucketLimiter(limits.perPeer, deps.clock);
  const perSource = new TokenBucketLimiter(limits.perSource, deps.clock);

  async function decide(request: IncomingMessage): Promise<Answer & { peer?: string; source: string }> {
    const source = remoteOuterAddress(request.socket.remoteAddress);
    if (request.method !== 'GET') return { source, ...refusal(405, 'badagent', 'ERR_INVALID_ARGUMENT', 'dyndns2 updates are GET requests') };
    const sourceWait = perSource.take(source);
    if (sourceWait > 0) return { source, ...refusal(429, 'abuse', 'ERR_RATE_LIMITED', `too many requests from ${source}`), retryAfterMs: sourceWait };
    const query = parseQuery(request.url ?? '');
    if ('status' in query) return { source, ...query };
    const credentials = parseBasic(request.headers.authorization);
    if (!credentials) return { source, ...badauth('ERR_UNAUTHENTICATED', 'HTTP Basic credentials NAME:KEY are required') };
    const { hostname, myip } = query;
    if (credentials.user !== hostname || (await deps.peerState(hostname)) === 'unknown') {
      return { source, ...refusal(404, 'nohost', 'ERR_PEER_NOT_FOUND', `no peer "${hostname}" for these credentials`) };
    }
    if (!(await deps.verifyKey(hostname, credentials.password))) return { source, ...badauth('ERR_UNAUTHENTICATED', `wrong key for "${hostname}"`) };
    if ((await deps.peerState(hostname)) === 'revoked') {
      return { source, ...refusal(403, 'badauth', 'ERR_TOKEN_REVOKED', `peer "${hostname}" is revoked`) };
    }
    const peerWait = perPeer.take(hostname);
    if (peerWait > 0) return { source, peer: hostname, ...refusal(429, 'abuse', 'ERR_RATE_LIMITED', `too many updates for "${hostname}"`), retryAfterMs: peerWait };
    if (myip !== undefined && myip !== source) {
      return {
        source, peer: hostname,
        ...refusal(403, 'abuse', 'ERR_ENDPOINT_UNVERIFIED', `myip ${myip} is not the address this request comes from (${source}); the hub only aims tunnels at addresses it has seen`),
      };
    }
    const previous = await deps.latestEndpoint(hostname);
    await deps.reportEndpoint(hostname, source);
    return { source, peer: hostname, status: 200, text: `${previous === source ? 'nochg' : 'good'} ${source}` };
  }

  return (request, response) => {
    decide(request).then((answer) => {
      if (answer.code) deps.log.info({ peer: answer.peer, remoteAddress: answer.source, code: answer.code, reason: answer.message }, 'dyndns2 update refused');
      else deps.log.info({ peer: answer.peer, remoteAddress: answer.source, answer: answer.text }, 'dyndns2 update');
      send(response, answer);
    }, (err: unknown) => {
      if (!isTunnelError(err)) deps.log.error({ err }, 'dyndns2 update failed internally');
      const error = isTunnelError(err) ? err : new TunnelError('ERR_INTERNAL', 'the update failed');
      if (error.code === 'ERR_ENDPOINT_CONFLICT') {
        deps.log.info({ remoteAddress: request.socket.remoteAddress, code: error.code, reason: error.message }, 'dyndns2 update refused');
        send(response, { status: 409, text: 'abuse', code: error.code, message: error.message });
        return;
      }
      send(response, { status: 500, text: '911', code: error.code, message: error.message });
    });
  };
}

function send(response: ServerResponse, answer: Answer): void {
  const headers: Record<string, string> = { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' };
  if (answer.code) headers[ERROR_HEADER] = answer.code;
  if (answer.status === 401) headers['www-authenticate'] = 'Basic realm="tunnel-hub dyndns2"';
  if (answer.retryAfterMs !== undefined) headers['retry-after'] = String(Math.ceil(answer.retryAfterMs / 1000));
  // A fixed length, not chunked: ddclient 3.10 reads a chunk-size line as the answer.
  const body = `${answer.text}\n`;
  headers['content-length'] = String(Buffer.byteLength(body));
  response.writeHead(answer.status, headers);
  response.end(body);
}

function refusal(status: number, text: string, code: TunnelError['code'], message: string): Answer {
  return { status, text, code, message };
}

function badauth(code: TunnelError['code'], message: string): Answer {
  return refusal(401, 'badauth', code, message);
}

/** hostname once (one peer name, no list), myip at most once and IPv4; other dyndns2 fields are ignored. */
function parseQuery(url: string): { hostname: string; myip?: string } | Answer {
  let params: URLSearchParams;
  try {
    params = new URL(url, 'http://hub').searchParams;
  } catch {
    return refusal(400, 'badagent', 'ERR_INVALID_ARGUMENT', 'the request URL cannot be parsed');
  }
  const hostnames = params.getAll('hostname');
  const hostname = hostnames[0];
  if (hostnames.length !== 1 || hostname === undefined || !/^[a-z0-9][a-z0-9-]{0,30}$/.test(hostname)) {
    return refusal(400, 'notfqdn', 'ERR_INVALID_ARGUMENT', 'hostname must be given once, as one peer name');
  }
  const myips = params.getAll('myip');
  const myip = myips[0];
  if (myips.length > 1 || (myip !== undefined && !isIpv4Address(myip))) {
    return refusal(400, 'badagent', 'ERR_INVALID_ADDRESS', 'myip must be one IPv4 address');
  }
  return myip === undefined ? { hostname } : { hostname, myip };
}

/** `Authorization: Basic base64(user:password)`, or undefined when absent or malformed. */
function parseBasic(header: string | undefined): { user: string; password: string } | undefined {
  const match = /^Basic ([A-Za-z0-9+/=]{1,512})$/i.exec(header ?? '');
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
