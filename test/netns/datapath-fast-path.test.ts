import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPairTopology, execIn, type PairTopology } from '../helpers/netns.js';
import { netnsUnavailableReason } from '../helpers/root.js';
import { startUp, statusIn, type RunningUp } from '../helpers/tunnel-client-process.js';
import { waitUntil } from '../helpers/wait-until.js';

const reason = netnsUnavailableReason();
if (reason) console.warn(`skipping datapath-fast-path: ${reason}`);

const PINGS = 30;

// A runs the native fast path, B runs every packet through JS (TUNNEL_FAST_PATH=off): pings
// that cross both ways prove the fast path's bytes are the JS codecs' bytes, in both directions.
describe.skipIf(reason)('datapath fast path against the JS path (two namespaces, veth)', () => {
  let pair: PairTopology;
  const states: string[] = [];
  const running: RunningUp[] = [];

  beforeAll(() => {
    pair = createPairTopology();
  });

  afterAll(async () => {
    await Promise.all(running.map((up) => up.stop()));
    pair?.destroy();
    for (const state of states) rmSync(state, { recursive: true, force: true });
  });

  async function upBoth(encap: string, n: number, extra: string[]): Promise<{ stateA: string; stateB: string; name: string }> {
    const name = `fp-${encap}`;
    const stateA = mkdtempSync(join(tmpdir(), 'tc-fp-a-'));
    const stateB = mkdtempSync(join(tmpdir(), 'tc-fp-b-'));
    states.push(stateA, stateB);
    const common = ['--encap', encap, '--name', name, '--keepalive', '1', ...extra];
    running.push(await startUp(pair.a, ['--local', pair.aAddress, '--remote', pair.bAddress, '--address', `10.81.${n}.1/30`, '--peer-address', `10.81.${n}.2`, '--state', stateA, ...common]));
    running.push(await startUp(pair.b, ['--local', pair.bAddress, '--remote', pair.aAddress, '--address', `10.81.${n}.2/30`, '--peer-address', `10.81.${n}.1`, '--state', stateB, ...common], 20_000, { TUNNEL_FAST_PATH: 'off' }));
    return { stateA, stateB, name };
  }

  for (const [index, [encap, extra]] of ([['gre', ['--key', '77']], ['fou', []], ['gue', []], ['ipip', []]] as const).entries()) {
    it(`${encap}: pings cross both ways, most through the fast route on A, none on B`, async () => {
      const n = index + 1;
      const { stateA, stateB } = await upBoth(encap, n, [...extra]);
      const output = execIn(pair.a, 'ping', ['-c', String(PINGS), '-i', '0.05', '-W', '2', `10.81.${n}.2`]);
      expect(output).toMatch(new RegExp(`${PINGS} packets transmitted, ${PINGS} received`));

      const [a] = statusIn(pair.a, stateA).tunnels;
      const [b] = statusIn(pair.b, stateB).tunnels;
      expect(b!.fastPath).toBeNull();
      // The first echo may go through JS (a tunnel receives natively once it is up); the rest do not.
      expect(a!.fastPath.txPackets).toBeGreaterThanOrEqual(PINGS - 2);
      expect(a!.fastPath.rxPackets).toBeGreaterThanOrEqual(PINGS - 2);
      expect(a!.tx.packets).toBeGreaterThanOrEqual(a!.fastPath.txPackets);
      expect(a!.rx.packets).toBeGreaterThanOrEqual(a!.fastPath.rxPackets);
      expect(a!.rx.errors + a!.tx.errors).toBe(0);
      expect(a!.state).toBe('up');
      if (encap === 'fou' || encap === 'gue') {
        // UDP keepalive echoes still reach JS on A, which times their round trip.
        await waitUntil(() => statusIn(pair.a, stateA).tunnels[0]!.liveness.rttMs !== null, 10_000, 'a keepalive round trip on A');
      }
    });
  }

  it('hands oversized DF packets to JS, which answers with ICMP fragmentation needed', () => {
    const n = 1; // the gre tunnel of the first case, still up
    const output = execIn(pair.a, 'sh', ['-c', `ping -c 1 -M do -s 1472 -W 2 10.81.${n}.2 2>&1 || true`]);
    expect(output).toMatch(/mtu=1472|message too long/i);
  });
});
