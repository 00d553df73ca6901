import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { HubStatus, PeerStatus } from '../../server/hub/hub-status.js';
import { hubStatusDocument } from '../../server/hub/hub-status-report.js';
import { statusSocketPath } from '../../server/hub/status-socket.js';
import { rejectionOf } from '../helpers/error-code.js';

/** A hub status of `peers` peers m0…, each with an address and no session but the even ones. */
function statusOf(peers: number): HubStatus {
  return {
    version: '0.1.0',
    hub: { running: true, endpoint: '198.51.100.1', pid: 1, wsPort: 8443, sshPort: 2222, hubId: 'SHA256:x' },
    peers: Array.from({ length: peers }, (_, i) => ({ name: `m${i}`, connected: i % 2 === 0, inner: `10.64.${i >> 8}.${i & 255}`, endpoint: { seen: null, reported: null } }) as unknown as PeerStatus),
    links: [], hubLinks: [], shortcuts: null,
  };
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** A state folder whose status socket answers every request with `answer`, as a running hub would. */
async function folderAnswering(answer: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'status-document-'));
  const server: Server = createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('data', () => undefined);
    socket.on('end', () => socket.end(answer));
  });
  await new Promise<void>((resolve) => server.listen(statusSocketPath(dir), resolve));
  cleanups.push(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

describe('hubStatusDocument: status --json from the running hub', () => {
  const large = `${JSON.stringify(statusOf(20_000))}\n`;

  it('passes a large answer that needs no filtering through as the hub wrote it', async () => {
    const dir = await folderAnswering(large);
    expect(large.length).toBeGreaterThan(1 << 20);
    expect(await hubStatusDocument(dir, {}, 1 << 20)).toEqual({ text: large });
  });

  it('parses a small answer, and filters one the hub sent unfiltered', async () => {
    const small = statusOf(4);
    const dir = await folderAnswering(`${JSON.stringify(small)}\n`);
    expect(await hubStatusDocument(dir, {}, 1 << 20)).toEqual({ status: small });
    const filtered = await hubStatusDocument(dir, { state: 'up' }, 1 << 20);
    expect('status' in filtered && filtered.status.peers.map((peer) => peer.name)).toEqual(['m0', 'm2']);
    // A large answer with a filter asked for is filtered here too, not passed through.
    const bigDir = await folderAnswering(large);
    const selected = await hubStatusDocument(bigDir, { text: 'm1999' }, 1 << 20);
    expect('status' in selected && selected.status.peers.map((peer) => peer.name)).toEqual(['m1999', 'm19990', 'm19991', 'm19992', 'm19993', 'm19994', 'm19995', 'm19996', 'm19997', 'm19998', 'm19999']);
  });

  it('refuses a large answer cut short (no final newline) with ERR_PROTOCOL instead of printing half of it', async () => {
    const dir = await folderAnswering(large.slice(0, -1000));
    expect((await rejectionOf(hubStatusDocument(dir, {}, 1 << 20))).code).toBe('ERR_PROTOCOL');
  });

  it("turns the hub's refusal into its TunnelError", async () => {
    const dir = await folderAnswering(`${JSON.stringify({ error: { code: 'ERR_INVALID_ARGUMENT', message: 'the status request is not …' } })}\n`);
    expect((await rejectionOf(hubStatusDocument(dir, {}, 0))).code).toBe('ERR_INVALID_ARGUMENT');
  });
});
