import { timingSafeEqual } from 'node:crypto';
import ssh2 from 'ssh2';
import type { AuthContext, Connection, ServerChannel } from 'ssh2';
import type { Logger } from 'pino';
import { TunnelError, isTunnelError } from '../../shared/errors.js';
import { LineFramer } from '../../shared/protocol/index.js';
import type { AuthenticatedPeer } from './authenticated-peer.js';
import type { ControlSession } from './control-session.js';
import { sessionRefused } from './diagnostics.js';
import { remoteOuterAddress } from './remote-outer-address.js';
import type { SessionTransport } from './session-transport.js';
import type { ShellCommandResult } from './shell-commands.js';
import type { ConnectionGate } from './connection-gate.js';

/** The exec command that carries the control protocol as newline-delimited JSON. */
export const PROTOCOL_COMMAND = 'tunnel-protocol';

/** Failed authentication attempts allowed per connection before it is dropped. */
const MAX_AUTH_ATTEMPTS = 6;

/** Where and how the SSH front door listens, and whom it hands channels to. */
export interface SshFrontDoorOptions {
  host: string;
  port: number;
  /** The hub's host private key (OpenSSH format). */
  hostKey: string;
  /** The OpenSSH public keys (`type base64 [comment]`) registered for a peer name; empty when unknown. */
  authorizedKeys(peer: string): Promise<string[]>;
  /** Why a peer holding a registered key is refused anyway (e.g. revoked), or undefined. */
  refusal(peer: string): Promise<TunnelError | undefined>;
  /** Creates the session for an authenticated protocol channel. */
  attach(peer: AuthenticatedPeer, transport: SessionTransport): ControlSession;
  /** Runs any other exec command (`endpoint`, `table`, `config`) for the authenticated peer. */
  shell(peer: string, remoteAddress: string, command: string): Promise<ShellCommandResult>;
  /** The listener with the door's limits; its handshake deadline is the time to authenticate. */
  gate: ConnectionGate;
  log: Logger;
}

/** A listening SSH front door. */
export interface SshFrontDoor {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * The SSH front door: public-key authentication against the registry (username = peer name; the
 * key must be registered AND the signature must verify, and the peer must not be refused, e.g. revoked), then an exec channel `tunnel-protocol`
 * carrying the same messages as the WebSocket door, one JSON object per line.
 */
export async function openSshFrontDoor(options: SshFrontDoorOptions): Promise<SshFrontDoor> {
  const connections = new Set<Connection>();
  const server = new ssh2.Server({ hostKeys: [options.hostKey], ident: 'tunnel-hub' }, (client, info) => {
    connections.add(client);
    client.on('close', () => connections.delete(client));
    client.on('error', (err) => options.log.debug({ err: err.message }, 'ssh connection error'));
    let remoteAddress: string;
    try {
      remoteAddress = remoteOuterAddress(info.ip);
    } catch (err) {
      options.log.info({ remoteAddress: info.ip }, 'ssh connection refused: not a routable address');
      sessionRefused.publish({ transport: 'ssh', code: isTunnelError(err) ? err.code : 'ERR_INVALID_ADDRESS', remoteAddress: info.ip });
      client.end();
      return;
    }
    let failures = 0;
    let peer: AuthenticatedPeer | undefined;

    const answer = (ctx: AuthContext, verdict: KeyVerdict): void => {
      if (verdict === 'accept') {
        peer = { name: ctx.username, method: 'ssh-key' };
        ctx.accept();
        return;
      }
      if (verdict === 'key-ok') {
        ctx.accept(); // the client only asked whether this key would do; it signs next
        return;
      }
      if (verdict !== 'none') {
        failures += 1;
        options.gate.loginFailed(remoteAddress, verdict.code);
        options.log.info({ code: verdict.code, peer: ctx.username, remoteAddress }, 'ssh authentication refused');
        sessionRefused.publish({ transport: 'ssh', code: verdict.code, remoteAddress });
      }
      if (failures >= MAX_AUTH_ATTEMPTS) client.end();
      else ctx.reject(['publickey']);
    };

    client.on('authentication', (ctx: AuthContext) => {
      void checkPublicKey(ctx, options.authorizedKeys, options.refusal).then(
        (verdict) => answer(ctx, verdict),
        (err: unknown) => answer(ctx, isTunnelError(err) ? err : new TunnelError('ERR_STATE', 'the registry cannot be read')),
      );
    });

    client.on('ready', () => {
      options.gate.loginSucceeded(remoteAddress);
      options.gate.established(info.ip, info.port);
      let protocolOpen = false;
      client.on('session', (acceptSession) => {
        // Only exec is listened for: ssh2 refuses shells, ptys and subsystems nobody listens for.
        const session = acceptSession();
        session.on('exec', (accept, _reject, request) => {
          const channel = accept();
          const command = request.command.trim();
          if (!peer) {
            channel.exit(1);
            channel.end();
            return;
          }
          if (command !== PROTOCOL_COMMAND) {
            // Checked per command: a peer revoked since it logged in gets nothing more on this connection.
            const name = peer.name;
            void options.refusal(name).catch((err: unknown) => (isTunnelError(err) ? err : new TunnelError('ERR_STATE', 'the registry cannot be read')))
              .then((refused) => {
                if (!refused) {
                  runShell(channel, name, remoteAddress, command);
                  return;
                }
                options.log.info({ code: refused.code, peer: name, remoteAddress }, 'ssh command refused');
                channel.stderr.write(`${refused.code}: ${refused.message}\n`);
                channel.exit(1);
                channel.end();
                client.end();
              });
            return;
          }
          if (protocolOpen) {
            channel.stderr.write('ERR_INVALID_ARGUMENT: one protocol channel per connection\n');
            channel.exit(2);
            channel.end();
            return;
          }
          protocolOpen = true;
          bindChannel(channel, client, peer, remoteAddress);
        });
      });
    });
  });

  function runShell(channel: ServerChannel, peer: string, remoteAddress: string, command: string): void {
    options.shell(peer, remoteAddress, command).then((result) => {
      options.log.info({ peer, remoteAddress, command: command.split(/\s+/)[0]?.slice(0, 16), exitCode: result.exitCode }, 'ssh command');
      if (result.stdout) channel.write(result.stdout);
      if (result.stderr) channel.stderr.write(result.stderr);
      channel.exit(result.exitCode);
      channel.end();
    }, (err: unknown) => {
      options.log.warn({ peer, err: (err as Error).message }, 'ssh command failed');
      channel.stderr.write('ERR_INTERNAL: the command failed\n');
      channel.exit(1);
      channel.end();
    });
  }

  function bindChannel(channel: ServerChannel, client: Connection, peer: AuthenticatedPeer, remoteAddress: string): void {
    let ended = false;
    const transport: SessionTransport = {
      kind: 'ssh',
      encrypted: true,
      remoteAddress,
      send: (text) => {
        if (!ended) channel.write(`${text}\n`);
      },
      sendTogether: (texts) => {
        if (!ended) channel.write(texts.map((text) => `${text}\n`).join(''));
      },
      close: (error) => {
        if (ended) return;
        ended = true;
        if (error) channel.stderr.write(`${error.code}: ${error.message}\n`);
        channel.exit(error ? 1 : 0);
        channel.end();
        client.end();
      },
    };
    const session = options.attach(peer, transport);
    const framer = new LineFramer();
    channel.on('data', (chunk: Buffer) => {
      let lines: Buffer[];
      try {
        lines = framer.push(chunk);
      } catch (err) {
        session.close(isTunnelError(err) ? err : new TunnelError('ERR_PROTOCOL', 'unreadable stream'));
        return;
      }
      for (const line of lines) session.receive(line);
    });
    channel.on('close', () => session.close());
    client.on('close', () => session.close());
  }

  // The gate listens and hands over what it admits; the ssh2 server itself never listens.
  const port = await options.gate.listen(options.host, options.port, (socket) => server.injectSocket(socket));

  return {
    port,
    close: async () => {
      await options.gate.close();
      for (const client of connections) client.end();
      await new Promise<void>((resolve) => {
        const settle = (): void => {
          if (connections.size === 0) resolve();
        };
        for (const client of connections) client.once('close', () => setImmediate(settle));
        settle();
        // ssh2 only half-closes on end(); a client that never closes its side must not keep the
        // process alive, and ssh2 exposes no public destroy.
        setTimeout(() => {
          for (const client of connections) (client as unknown as { _sock?: { destroy(): void } })._sock?.destroy();
          resolve();
        }, 500).unref();
      });
    },
  };
}

type KeyVerdict = 'accept' | 'key-ok' | 'none' | TunnelError;

/**
 * Public-key auth, done properly: the offered key must be one registered for the username, and when
 * the client sends a signature it must verify over the session blob with that registered key.
 */
async function checkPublicKey(ctx: AuthContext, authorizedKeys: (peer: string) => Promise<string[]>,
  refusal: (peer: string) => Promise<TunnelError | undefined>): Promise<KeyVerdict> {
  if (ctx.method !== 'publickey') return 'none';
  const offered = ctx.key;
  const match = (await authorizedKeys(ctx.username))
    .map((text) => ssh2.utils.parseKey(text))
    .find((key): key is ssh2.ParsedKey => !(key instanceof Error) && key.type === offered.algo
      && sameBytes(key.getPublicSSH(), offered.data));
  if (!match) return new TunnelError('ERR_SSH_KEY_UNKNOWN', `key not registered for peer "${ctx.username.slice(0, 64)}"`);
  const refused = await refusal(ctx.username);
  if (refused) return refused;
  if (ctx.signature === undefined || ctx.blob === undefined) return 'key-ok';
  if (match.verify(ctx.blob, ctx.signature, ctx.hashAlgo) !== true) {
    return new TunnelError('ERR_SSH_KEY_INVALID', 'signature does not verify with the registered key');
  }
  return 'accept';
}

function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
