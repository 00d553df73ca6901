import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

/** Debian's Chromium, the only browser the tests drive. */
export const CHROMIUM = '/usr/bin/chromium';

/** Why the browser tests cannot run here, or null. */
export function chromiumUnavailableReason(): string | null {
  return existsSync(CHROMIUM) ? null : `${CHROMIUM} is missing (Debian package chromium; \`npm run setup:test\` installs it)`;
}

/** A headless Chromium with a fresh profile that talks to nothing but what a page asks for. */
export interface HeadlessChromium {
  context: BrowserContext;
  /** Every URL a page of this browser requested. */
  requests: string[];
  close(): Promise<void>;
}

/** Launches headless Chromium (no sandbox, GPU, QUIC, sync or background fetches) at a phone's viewport. */
export async function launchChromium(viewport = { width: 390, height: 844 }): Promise<HeadlessChromium> {
  const profile = mkdtempSync(join(tmpdir(), 'tunnel-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    deviceScaleFactor: 1,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  const requests: string[] = [];
  context.on('request', (request) => requests.push(request.url()));
  return {
    context,
    requests,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Makes a TCP port inside a network namespace reachable on this namespace's loopback, through a
 * UNIX socket (a file, so both namespaces see it): test/scripts/unix-socket-forwarder.ts runs in the
 * namespace and listens on `socketPath`; this side listens on 127.0.0.1 and pipes each connection through.
 */
export function loopbackBridge(socketPath: string): { listen(): Promise<number>; close(): void; server: Server } {
  const server = createServer((socket) => {
    const inner = connect(socketPath);
    socket.pipe(inner).pipe(socket);
    const end = (): void => {
      socket.destroy();
      inner.destroy();
    };
    socket.on('error', end);
    inner.on('error', end);
    socket.on('close', end);
    inner.on('close', end);
  });
  return {
    server,
    listen: () => new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port))),
    close: () => server.close(),
  };
}
