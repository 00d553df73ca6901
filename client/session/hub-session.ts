import { TunnelError, isTunnelError } from '../../shared/errors.js';
import {
  CONTROL_SILENCE_INTERVALS, HUB_MESSAGE_TYPES, decodeMessage, encodeMessage,
  type MessageOf, type OutgoingMessage,
} from '../../shared/protocol/index.js';
import type { ClientChannel } from './client-channel.js';

/** How many keepalive intervals of silence end the session. */
const LIVENESS_INTERVALS = 3;
/** The hub must answer hello within this long. */
const WELCOME_TIMEOUT_MS = 10_000;

/** What one session asks of the runner that owns the client's state and datapath. */
export interface HubSessionHandlers {
  welcomed(welcome: MessageOf<'welcome'>): void;
  /** Applies a config newer than any applied before; resolves once the datapath runs it. */
  apply(config: MessageOf<'config'>): Promise<void>;
  /** The highest config version applied so far (across sessions). */
  appliedVersion(): number;
  /** A config is running and its ack was sent. */
  acknowledged(config: MessageOf<'config'>): void;
  /** The session is over; `error` says why when there was a reason. */
  ended(error: TunnelError | undefined): void;
  /** When the hub tunnel last heard the hub while its keepalives still prove it alive, else null: proof of life on a path-proven session. */
  hubPathHeardAt?(): number | null;
}

/**
 * The client's half of one connection: sends hello, expects welcome, applies configs in version
 * order (a stale one is ignored, the current one re-acknowledged), acknowledges, answers each of
 * the hub's keepalives with one of its own and gives up after the hub is silent for a few keepalive
 * intervals. Answering instead of keeping a timer of its own lines the members' keepalives up with
 * the hub's, which sends them in batches, so a hub of thousands wakes for them in batches too. On
 * a path-proven session (the hub accepted it at connect) the hub tunnel hearing the hub counts as a
 * message from it, which then sends a keepalive only every few intervals; control silence of
 * CONTROL_SILENCE_INTERVALS intervals ends the session however the path fares.
 */
export class HubSession {
  private welcome: MessageOf<'welcome'> | undefined;
  private done = false;
  private livenessTimer: NodeJS.Timeout | undefined;
  /** When the hub's last message arrived (ms since epoch). */
  private lastHeard = 0;
  /** When the hub tunnel last proved the hub alive (path-proven sessions only). */
  private pathProvenAt = 0;
  private applying: Promise<void> = Promise.resolve();

  constructor(private readonly channel: ClientChannel, private readonly handlers: HubSessionHandlers) {}

  /** Opens the conversation: hello with the outer address the client believes it has, and the prefixes it advertises. */
  start(software: string, endpoint: string | null, advertise?: readonly string[]): void {
    this.send({ type: 'hello', software, endpoint, ...(advertise !== undefined ? { advertise: [...advertise] } : {}) });
    this.armLiveness(WELCOME_TIMEOUT_MS);
  }

  /** Reports a new outer address on this session. */
  report(address: string): void {
    if (this.welcome) this.send({ type: 'report', endpoint: { address } });
  }

  /** Asks the hub to rekey the link of `tunnel`: its outbound ESP SA passed the sequence number a rekey is due at. */
  rekey(tunnel: string): void {
    if (this.welcome) this.send({ type: 'rekey', tunnel });
  }

  /** Tells the hub whether a path probe of one of our tunnels was answered. */
  probe(tunnel: string, encap: MessageOf<'probe'>['encap'], answered: boolean): void {
    if (this.welcome) this.send({ type: 'probe', tunnel, encap, answered });
  }

  /** Reports the liveness and counters of shortcut tunnels. */
  linkReport(links: MessageOf<'link-report'>['links']): void {
    if (this.welcome) this.send({ type: 'link-report', links });
  }

  /** Feeds one message from the channel. */
  receive(raw: Buffer): void {
    if (this.done) return;
    try {
      const message = decodeMessage(raw);
      if (!HUB_MESSAGE_TYPES.has(message.type)) throw new TunnelError('ERR_PROTOCOL', `a hub may not send ${message.type}`);
      if (!this.welcome && message.type !== 'welcome' && message.type !== 'error') {
        throw new TunnelError('ERR_PROTOCOL', `${message.type} before welcome`);
      }
      this.lastHeard = Date.now();
      if (this.welcome && !this.pathProven()) this.armLiveness(this.welcome.keepaliveMs * LIVENESS_INTERVALS);
      switch (message.type) {
        case 'welcome':
          if (this.welcome) throw new TunnelError('ERR_PROTOCOL', 'welcome sent twice');
          this.welcome = message;
          if (this.pathProven()) this.checkLiveness(message.keepaliveMs);
          else this.armLiveness(message.keepaliveMs * LIVENESS_INTERVALS);
          this.handlers.welcomed(message);
          return;
        case 'config':
          this.applying = this.applying.then(() => this.applyConfig(message));
          return;
        case 'error':
          this.end(new TunnelError(message.code as TunnelError['code'], message.message));
          return;
        case 'keepalive':
          this.send({ type: 'keepalive' });
          return;
      }
    } catch (err) {
      const error = isTunnelError(err) ? err : new TunnelError('ERR_PROTOCOL', 'unreadable message from the hub');
      this.send({ type: 'error', code: error.code, message: error.message });
      this.end(error);
    }
  }

  /** Ends the session (idempotent): stops timers, closes the channel, tells the runner once. */
  end(error?: TunnelError): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.livenessTimer);
    this.channel.close();
    this.handlers.ended(error);
  }

  private async applyConfig(config: MessageOf<'config'>): Promise<void> {
    if (this.done) return;
    const applied = this.handlers.appliedVersion();
    if (config.version < applied) return; // stale: a newer spec is already running
    if (config.version > applied) {
      try {
        await this.handlers.apply(config);
      } catch (err) {
        const error = isTunnelError(err) ? err : new TunnelError('ERR_SYSTEM', `applying config ${config.version} failed`);
        this.send({ type: 'error', code: error.code, message: `config ${config.version}: ${error.message}` });
        return;
      }
    }
    this.send({ type: 'ack', version: config.version });
    this.handlers.acknowledged(config);
  }

  private send(message: OutgoingMessage): void {
    if (!this.done) this.channel.send(encodeMessage(message));
  }

  private pathProven(): boolean {
    return this.channel.pathLiveness === true && this.handlers.hubPathHeardAt !== undefined;
  }

  /** A path-proven session's check, once per keepalive interval: the hub tunnel hearing the hub stands for a message. */
  private checkLiveness(keepaliveMs: number): void {
    const now = Date.now();
    this.pathProvenAt = Math.max(this.pathProvenAt, this.handlers.hubPathHeardAt!() ?? 0);
    const controlSilenceMs = keepaliveMs * CONTROL_SILENCE_INTERVALS;
    const livenessMs = keepaliveMs * LIVENESS_INTERVALS;
    if (now - this.lastHeard >= controlSilenceMs) {
      this.end(new TunnelError('ERR_TIMEOUT', `the hub sent no control message for ${controlSilenceMs} ms`));
    } else if (now - Math.max(this.lastHeard, this.pathProvenAt) >= livenessMs) {
      this.end(new TunnelError('ERR_TIMEOUT', `the hub was silent for ${livenessMs} ms`));
    } else {
      clearTimeout(this.livenessTimer);
      this.livenessTimer = setTimeout(() => this.checkLiveness(keepaliveMs), keepaliveMs);
      this.livenessTimer.unref();
    }
  }

  private armLiveness(ms: number): void {
    clearTimeout(this.livenessTimer);
    this.livenessTimer = setTimeout(() => this.end(new TunnelError('ERR_TIMEOUT', `the hub was silent for ${ms} ms`)), ms);
    this.livenessTimer.unref();
  }
}
