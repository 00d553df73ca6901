import type { Logger } from 'pino';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { TunnelError } from '../../shared/errors.js';
import { PACKAGE_VERSION } from '../../shared/package-version.js';
import { peerNameFromHostName } from '../default-peer-name.js';
import { readClientState, writeClientState, type ClientState } from '../client-state.js';
import { importIdentity, loadIdentity, loadOrCreateIdentity, type ClientIdentity } from '../identity.js';
import type { BackoffPolicy } from './backoff.js';
import type { ClientDatapath } from './client-datapath.js';
import type { OuterAddressProbe } from './endpoint-watcher.js';
import { createHubDialer, type JoinCredential } from './hub-dialer.js';
import { chooseHub } from './choose-hub.js';
import { parseHubUrl, type HubUrl } from './hub-url.js';
import { SessionRunner } from './session-runner.js';

/** The software string sent in `hello`: the hub logs it and shows it in its status. */
export const CLIENT_SOFTWARE = `tunnel-client/${PACKAGE_VERSION}`;

/** A first join: where the hub is and how to prove the right to join. */
export interface JoinRequest {
  url: string;
  /** An invite or a peer token (WebSocket). */
  token?: string;
  /** The name asked for with an invite; default: from the host name (peerNameFromHostName). */
  name?: string;
  /** The private key registered with the hub (SSH). */
  keyFile?: string;
  /** A CA certificate file to trust for wss://. */
  caFile?: string;
}

/** What happens to a member's session, as it happens. */
export interface MemberEvents {
  welcomed?(peer: string): void;
  ended?(): void;
  applied?(config: ClientState['config'] & object, peer: string): void;
}

/** What `join` and `run` share; tests inject the datapath, probe and backoff. */
export interface MemberOptions {
  stateDir: string;
  datapath: ClientDatapath;
  log: Logger;
  /** Present for `join`; absent for `run`, which resumes from the state folder. */
  join?: JoinRequest;
  /** Return once the first config is applied and acknowledged. */
  once?: boolean;
  /** Prefixes behind this member to ask the hub to route (each hello says the whole list). */
  advertise?: readonly string[];
  /** Resolves when the member should stop (SIGINT/SIGTERM). */
  stopped: Promise<unknown>;
  /** Called once the first config runs (the CLI prints the tunnel). */
  onFirstConfig?(state: ClientState): void;
  /** Session events, for metrics: each welcome, each end of a welcomed session, each applied config. */
  events?: MemberEvents;
  probe?: OuterAddressProbe;
  probeIntervalMs?: number;
  backoff?: BackoffPolicy;
}

/**
 * `tunnel-client join` and `run`: sets up (join) or reads (run) the member's identity and hub,
 * then keeps the session and tunnels up until stopped, recording each applied config so the
 * next `run` starts with it. A join that the hub refuses leaves no state behind.
 */
export async function runMember(options: MemberOptions): Promise<void> {
  const { log, stateDir } = options;
  const existing = readClientState(stateDir);
  let plan: { url: HubUrl; identity: ClientIdentity; peer: string; credential?: JoinCredential; ca?: string };
  if (options.join) {
    if (existing) {
      throw new TunnelError('ERR_STATE', `${stateDir} already holds a join to ${existing.hub.url} as "${existing.peer}"; use \`tunnel-client run\`, or another --state folder`);
    }
    plan = prepareJoin(stateDir, options.join);
  } else {
    if (!existing) throw new TunnelError('ERR_STATE', `no join recorded in ${stateDir}; run \`tunnel-client join URL --token T\` first`);
    const identity = loadIdentity(stateDir);
    if (!identity) throw new TunnelError('ERR_STATE', `the member key is missing from ${stateDir}; join again`);
    plan = { url: parseHubUrl(existing.hub.url), identity, peer: existing.peer, ...(existing.hub.ca ? { ca: existing.hub.ca } : {}) };
  }

  let state: ClientState | undefined = existing;
  const save = (next: ClientState): void => {
    state = next;
    writeClientState(stateDir, next);
  };
  // The hub dialled now; a member of a cluster moves to another when its own stays unreachable.
  let target = plan.url;
  let unreachable = 0;
  const dial = createHubDialer({
    url: () => target,
    identity: plan.identity,
    peer: () => state?.peer ?? plan.peer,
    hubId: () => state?.hub.hubId,
    ...(plan.credential ? { join: plan.credential } : {}),
    ...(plan.ca ? { ca: readCa(plan.ca) } : {}),
    offerPathLiveness: options.datapath.pathHeardAt !== undefined,
    connected: (channel) => {
      const base: ClientState = state ?? { v: 1, peer: plan.peer, hub: { url: target.href, ...(plan.ca ? { ca: plan.ca } : {}) } };
      if (channel.hubId !== null && base.hub.hubId !== undefined && base.hub.hubId !== channel.hubId) {
        log.warn({ pinned: base.hub.hubId, announced: channel.hubId }, 'the hub announces another id than the one pinned at join');
      }
      if (state === undefined || (base.hub.hubId === undefined && channel.hubId !== null)) {
        save({ ...base, hub: { ...base.hub, ...(channel.hubId !== null ? { hubId: channel.hubId } : {}) } });
      }
    },
  });
  const runner = new SessionRunner({
    dial,
    hub: { host: target.host, port: target.port },
    datapath: options.datapath,
    software: CLIENT_SOFTWARE,
    log,
    ...(options.advertise !== undefined ? { advertise: options.advertise } : {}),
    ...(existing?.config ? { savedConfig: existing.config } : {}),
    onApplied: (config) => {
      if (state) save({ ...state, config });
      options.events?.applied?.(config, state?.peer ?? plan.peer);
    },
    onWelcome: (welcome) => {
      unreachable = 0;
      if (state && state.peer !== welcome.peer) save({ ...state, peer: welcome.peer });
      options.events?.welcomed?.(welcome.peer);
    },
    unreachable: () => {
      unreachable += 1;
      const cluster = state?.config?.cluster;
      const current = cluster?.hubs.find((hub) => hub.url === target.href || hub.endpoint === target.host)?.name ?? cluster?.hub;
      const choice = chooseHub({ hubs: cluster?.hubs ?? [], current, unreachable });
      if (!choice.moved || !choice.hub || !state) return undefined;
      const next = choice.hub;
      target = parseHubUrl(target.scheme === 'ssh' ? `ssh://${state.peer}@${next.endpoint}:${next.sshPort ?? target.port}` : next.url);
      unreachable = 0;
      // The next `run` starts where the member went; the new hub's host key is the token audience.
      save({ ...state, hub: { ...state.hub, url: target.href, hubId: next.hostKey } });
      log.warn({ from: current ?? null, to: next.name, url: target.href }, 'hub unreachable; moving to another hub of the cluster');
      return { host: target.host, port: target.port };
    },
    ...(options.events?.ended ? { onSessionEnded: options.events.ended } : {}),
    ...(options.probe ? { probe: options.probe } : {}),
    ...(options.probeIntervalMs ? { probeIntervalMs: options.probeIntervalMs } : {}),
    ...(options.backoff ? { backoff: options.backoff } : {}),
  });
  await runner.start();
  void runner.firstConfig.then(() => {
    if (state) options.onFirstConfig?.(state);
  }, () => undefined);
  const finished = options.once ? runner.firstConfig.then(() => undefined) : options.stopped;
  try {
    await Promise.race([finished, runner.done(), options.stopped]);
  } finally {
    await runner.stop();
  }
  await runner.done();
}

function prepareJoin(stateDir: string, join: JoinRequest): { url: HubUrl; identity: ClientIdentity; peer: string; credential?: JoinCredential; ca?: string } {
  const url = parseHubUrl(join.url);
  const ca = join.caFile ? { ca: join.caFile } : {};
  if (join.caFile) readCa(join.caFile);
  if (url.scheme === 'ssh') {
    if (!join.keyFile) throw new TunnelError('ERR_INVALID_ARGUMENT', 'joining over ssh:// needs --key FILE (the private key registered with the hub)');
    if (join.token) throw new TunnelError('ERR_INVALID_ARGUMENT', '--token is for ws:// and wss://; over ssh:// the key is the credential');
    return { url, identity: importIdentity(stateDir, join.keyFile), peer: url.user ?? '', ...ca };
  }
  if (!join.token) throw new TunnelError('ERR_INVALID_ARGUMENT', `joining over ${url.scheme}:// needs --token (an invite or a peer token)`);
  if (join.keyFile) throw new TunnelError('ERR_INVALID_ARGUMENT', '--key is for ssh://; over WebSocket a member key is generated');
  const kind = tokenKind(join.token);
  if (kind.kind === 'invite') {
    const name = join.name ?? peerNameFromHostName(hostname());
    return { url, identity: loadOrCreateIdentity(stateDir), peer: name, credential: { kind: 'invite', token: join.token, name }, ...ca };
  }
  return { url, identity: loadOrCreateIdentity(stateDir), peer: kind.sub, credential: { kind: 'peer-token', token: join.token }, ...ca };
}

/** Reads the token's unverified claims only to know what it is; the hub does the verifying. */
function tokenKind(token: string): { kind: 'invite' } | { kind: 'peer'; sub: string } {
  const payload = token.split('.')[1];
  let claims: { typ?: unknown; sub?: unknown } = {};
  try {
    claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8')) as typeof claims;
  } catch {
    throw new TunnelError('ERR_TOKEN_INVALID', '--token is not a JWT (expected the text `tunnel-hub invite create` or `peer add --token` printed)');
  }
  if (claims.typ === 'invite') return { kind: 'invite' };
  if (claims.typ === 'peer' && typeof claims.sub === 'string') return { kind: 'peer', sub: claims.sub };
  throw new TunnelError('ERR_TOKEN_INVALID', '--token is neither an invite nor a peer token');
}

function readCa(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new TunnelError('ERR_INVALID_ARGUMENT', `cannot read --ca ${file}: ${(err as Error).message}`);
  }
}
