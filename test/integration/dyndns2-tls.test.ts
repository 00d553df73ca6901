import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dyndns2Request } from '../helpers/dyndns2-request.js';
import { withHub, type TestHub } from '../helpers/with-hub.js';

function opensslUnavailableReason(): string | null {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return null;
  } catch {
    return 'openssl is missing (`npm run setup:test` installs it): no certificate for the TLS listener';
  }
}

const reason = opensslUnavailableReason();
if (reason) console.warn(`skipping dyndns2-tls: ${reason}`);

describe.skipIf(reason)('dyndns2 over the TLS WebSocket listener', () => {
  let dir: string;
  let hub: TestHub;
  let cert: Buffer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tc-dyndns2-tls-'));
    const certFile = join(dir, 'cert.pem');
    const keyFile = join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', keyFile, '-out', certFile], { stdio: 'pipe' });
    cert = readFileSync(certFile);
    hub = await withHub({ tls: { certFile, keyFile } });
    await hub.hub.registry.peers.add({ name: 'router' });
  });

  afterAll(async () => {
    await hub?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('answers good over HTTPS on the same port and certificate as the WebSocket', async () => {
    const key = await hub.hub.registry.dyndnsKeys.issue('router');
    const reply = await dyndns2Request(hub.hub.wsPort, { query: 'hostname=router', auth: `router:${key}`, ca: cert });
    expect(reply).toMatchObject({ status: 200, body: 'good 127.0.0.1\n' });
    expect(hub.datapath.tunnels.get('tnl-router')?.remote).toBe('127.0.0.1');
    const wrong = await dyndns2Request(hub.hub.wsPort, { query: 'hostname=router', auth: 'router:nope', ca: cert });
    expect(wrong).toMatchObject({ status: 401, body: 'badauth\n', code: 'ERR_UNAUTHENTICATED' });
    await expect(dyndns2Request(hub.hub.wsPort, { query: 'hostname=router', auth: `router:${key}` })).rejects.toThrow();
  });
});
