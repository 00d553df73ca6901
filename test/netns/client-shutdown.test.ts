import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { netnsUnavailableReason } from '../helpers/root.js';
import { createPairTopology, execInAsync, type PairTopology } from '../helpers/netns.js';
import { runCliIn, startCli, startServe, type CliProcess } from '../helpers/control-processes.js';
import { waitUntil } from '../helpers/wait-until.js';

const reason = netnsUnavailableReason();
if (reason) console.warn(`skipping client shutdown netns tests: ${reason}`);

/** How long SIGTERM may take to end a member whose hub stopped answering (the bound plus slack for a busy machine). */
const EXIT_BOUND_MS = 9_000;

describe.skipIf(reason !== null)('tunnel-client exits on SIGTERM even when its hub hangs (hub A / member B)', () => {
  let topo: PairTopology;
  let dir: string;
  let hub: CliProcess | undefined;
  let member: CliProcess | undefined;

  beforeAll(() => {
    topo = createPairTopology();
    dir = mkdtempSync(join(tmpdir(), 'tunnel-client-shutdown-'));
  });
  afterAll(async () => {
    if (hub) hub.child.kill('SIGCONT');
    await member?.stop('SIGKILL');
    await hub?.stop();
    topo?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('SIGTERM while the hub process is SIGSTOPped: the member exits within a few seconds and removes tnl-hub', async () => {
    const hubState = join(dir, 'hub');
    await runCliIn(topo.a, 'server', ['--state', hubState, 'init', '--endpoint', topo.aAddress, '--pool', '10.1.14.0/24']);
    hub = await startServe(topo.a, hubState, ['--listen', topo.aAddress]);
    const invite = (await runCliIn(topo.a, 'server', ['--state', hubState, 'invite', 'create'])).trim();
    member = startCli(topo.b, 'client', ['join', `ws://${topo.aAddress}:8443`, '--token', invite, '--name', 'b', '--state', join(dir, 'b')]);
    await waitUntil(() => /tnl-hub up/.test(member?.output() ?? ''), 20_000, () => `member join: ${member?.output() ?? ''}`);

    // The hub freezes with the connection open: no close frame, no FIN will ever answer the member.
    hub.child.kill('SIGSTOP');
    const started = Date.now();
    member.child.kill('SIGTERM');
    const code = await Promise.race([member.exited, new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 20_000))]);
    const tookMs = Date.now() - started;
    expect(code, `member output: ${member.output()}`).not.toBe('hung');
    expect(tookMs).toBeLessThan(EXIT_BOUND_MS);
    expect(code).toBe(0);
    expect((await execInAsync(topo.b, 'ip', ['link', 'show', 'tnl-hub'])).code).not.toBe(0);
    console.log(`member exited ${tookMs} ms after SIGTERM with the hub stopped`);
    hub.child.kill('SIGCONT');
  });
});
