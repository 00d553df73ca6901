import { createHash } from 'node:crypto';
import { connect as connectTcp, type Socket } from 'node:net';
import ssh2 from 'ssh2';
import { TunnelError } from '../../shared/errors.js';
import { LineFramer } from '../../shared/protocol/index.js';
import type { ClientChannel, ClientChannelEvents } from './client-channel.js';

/** The exec command on the hub that speaks the control protocol (see server/control/ssh-front-door.ts). */
const PROTOCOL_COMMAND = 'tunnel-protocol';
const CONNECT_TIMEOUT_MS = 10_000;
/** How long a closing channel waits for the hub to end the connection before dropping the socket. */
const CLOSE_GRACE_MS = 1_000;

/** How to reach the hub over SSH. */
export interface SshTarget {
  host: string;
  port: number;
  /** The peer name; the hub's SSH username. */
  username: string;
  /** The private key registered with the hub (OpenSSH or PEM). */
  privateKey: Buffer;
  /**
   * The hub's host key fingerprint (`SHA256:…`) pinned at join. Undefined on first join: any key
   * is accepted and the channel's `hubId` tells the caller which one to pin (trust on first use).
   */
  hostKeyFingerprint?: string;
}

/** An SSH connection with the protocol exec channel open. */
export function openSshChannel(target: SshTarget, events: ClientChannelEvents): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connectTcp({ host: target.host, port: target.port });
    const client = new ssh2.Client();
    let opened = false;
    let hostKeyMismatch = false;
    let hubId: string | null = null;
    const fail = (error: TunnelError): void => {
      if (!opened) reject(error);
      client.end();
      socket.destroy();
    };
    socket.once('error', (err) => fail(new TunnelError('ERR_NOT_CONNECTED', `cannot reach the hub at ${target.host}:${target.port}: ${err.message}`)));
    socket.once('connect', () => {
      client.connect({
        sock: socket,
        username: target.username,
        privateKey: target.privateKey,
        readyTimeout: CONNECT_TIMEOUT_MS,
        keepaliveInterval: 0,
        hostVerifier: (key: Buffer) => {
          const fingerprint = `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
          hubId = fingerprint;
          if (target.hostKeyFingerprint === undefined) return true;
          hostKeyMismatch = fingerprint !== target.hostKeyFingerprint;
          return !hostKeyMismatch;
        },
      });
    });
    client.on('error', (err: Error & { level?: string }) => {
      if (hostKeyMismatch) {
        fail(new TunnelError('ERR_UNAUTHENTICATED', `the hub's SSH host key changed (expected ${target.hostKeyFingerprint ?? ''}); refusing to connect`));
      } else if (err.level === 'client-authentication') {
        fail(new TunnelError('ERR_SSH_KEY_UNKNOWN', `the hub refused the key for "${target.username}"`));
      } else {
        fail(new TunnelError('ERR_NOT_CONNECTED', `ssh to the hub failed: ${err.message}`));
      }
    });
    client.on('ready', () => {
      client.exec(PROTOCOL_COMMAND, (err, stream) => {
        if (err) {
          fail(new TunnelError('ERR_NOT_CONNECTED', `the hub refused the protocol channel: ${err.message}`));
          return;
        }
        opened = true;
        const framer = new LineFramer();
        let stderr = '';
        let closedError: TunnelError | undefined;
        stream.on('data', (chunk: Buffer) => {
          try {
            for (const line of framer.push(chunk)) events.message(line);
          } catch (error) {
            closedError = error as TunnelError;
            client.end();
          }
        });
        stream.stderr.on('data', (chunk: Buffer) => {
          if (stderr.length < 1024) stderr += chunk.toString('utf8');
        });
        let finished = false;
        const finish = (): void => {
          if (finished) return;
          finished = true;
          client.end();
          socket.destroy();
          const match = /^(ERR_[A-Z_]+): (.*)$/m.exec(stderr);
          events.closed(closedError ?? (match ? new TunnelError(match[1] as TunnelError['code'], match[2] ?? '') : undefined));
        };
        stream.on('close', finish);
        client.on('close', finish);
        resolve({
          localAddress: socket.localAddress ?? null,
          hubId,
          send: (text) => {
            if (stream.writable) stream.write(`${text}\n`);
          },
          close: () => {
            stream.end();
            client.end();
            // A hub that stopped answering never closes its side; do not let the socket linger.
            setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
          },
        });
      });
    });
  });
}
