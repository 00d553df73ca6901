import type { IncomingMessage } from 'node:http';
import { WebSocket } from 'ws';
import ssh2 from 'ssh2';
import type { ClientChannel as Ssh2Channel } from 'ssh2';
import { LineFramer } from '../../shared/protocol/index.js';

/** A refused WebSocket upgrade as the test sees it. */
export interface Refusal {
  status: number;
  code: string | undefined;
  body: string;
}

/** A hand-driven protocol connection: send raw text, read decoded messages, see how it closed. */
export interface ProtocolClient {
  send(raw: string | Buffer): void;
  /** The next message of `type` (earlier ones of other types are kept), or throws after `timeoutMs`. */
  next(type: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Every message received so far. */
  readonly received: Record<string, unknown>[];
  /** Resolves with the close code (WebSocket) or exit code (SSH) once the hub ends the connection. */
  readonly closed: Promise<{ code: number; reason: string }>;
  close(): void;
}

/** Opens a WebSocket with these headers; resolves a ProtocolClient, or a Refusal when the upgrade is refused. */
export function connectWs(url: string, headers: Record<string, string>): Promise<ProtocolClient | Refusal> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.on('unexpected-response', (_req, res: IncomingMessage) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => {
        const code = res.headers['x-tunnel-error'];
        resolve({ status: res.statusCode ?? 0, code: typeof code === 'string' ? code : undefined, body });
        ws.terminate();
      });
    });
    ws.on('error', (err) => reject(err));
    ws.on('open', () => {
      const inbox = new Inbox();
      ws.on('message', (data: Buffer) => inbox.push(data.toString()));
      const closed = new Promise<{ code: number; reason: string }>((done) => ws.on('close', (code, reason) => done({ code, reason: reason.toString() })));
      resolve({
        send: (raw) => ws.send(raw),
        next: (type, timeoutMs) => inbox.next(type, timeoutMs),
        received: inbox.all,
        closed,
        close: () => ws.terminate(),
      });
    });
  });
}

/** Opens an SSH connection with `privateKey` and runs `command` (the protocol channel by default). */
export function connectSsh(port: number, username: string, privateKey: string, command = 'tunnel-protocol'): Promise<ProtocolClient & { stderr(): string }> {
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    client.on('error', reject);
    client.on('ready', () => {
      client.exec(command, (err, stream: Ssh2Channel) => {
        if (err) return reject(err);
        const inbox = new Inbox();
        const framer = new LineFramer();
        let stderr = '';
        stream.on('data', (chunk: Buffer) => {
          for (const line of framer.push(chunk)) inbox.push(line.toString());
        });
        stream.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        const closed = new Promise<{ code: number; reason: string }>((done) => {
          let exit = -1;
          stream.on('exit', (code: number) => (exit = code));
          stream.on('close', () => {
            client.end();
            done({ code: exit, reason: stderr });
          });
        });
        resolve({
          send: (raw) => stream.write(typeof raw === 'string' && !raw.endsWith('\n') ? `${raw}\n` : raw),
          next: (type, timeoutMs) => inbox.next(type, timeoutMs),
          received: inbox.all,
          closed,
          close: () => client.end(),
          stderr: () => stderr,
        });
      });
    });
    client.connect({ host: '127.0.0.1', port, username, privateKey, readyTimeout: 10_000 });
  });
}

class Inbox {
  readonly all: Record<string, unknown>[] = [];
  private readonly waiters: { type: string; resolve: (m: Record<string, unknown>) => void }[] = [];
  private cursor = new Map<string, number>();

  push(text: string): void {
    const message = JSON.parse(text) as Record<string, unknown>;
    this.all.push(message);
    for (const waiter of [...this.waiters]) {
      if (waiter.type === message.type && this.take(waiter.type)) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve(message);
        return;
      }
    }
  }

  next(type: string, timeoutMs = 10_000): Promise<Record<string, unknown>> {
    const ready = this.take(type);
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      const waiter = { type, resolve: (m: Record<string, unknown>) => { clearTimeout(timer); resolve(m); } };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`no ${type} message within ${timeoutMs} ms (got: ${this.all.map((m) => String(m.type)).join(', ')})`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** The first not-yet-taken message of `type`, marking it taken. */
  private take(type: string): Record<string, unknown> | undefined {
    const from = this.cursor.get(type) ?? 0;
    for (let i = from; i < this.all.length; i++) {
      if (this.all[i]?.type === type) {
        this.cursor.set(type, i + 1);
        return this.all[i];
      }
    }
    return undefined;
  }
}

/** True when `result` is a refused upgrade. */
export function isRefusal(result: ProtocolClient | Refusal): result is Refusal {
  return 'status' in result;
}
