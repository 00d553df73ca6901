import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNatTopology, execIn, execInAsync, spawnIn, type NatTopology } from '../helpers/netns.js';
import { netnsUnavailableReason } from '../helpers/root.js';
import { testScript } from '../helpers/test-scripts.js';
import type { EngineHostSpec } from '../scripts/engine-host.js';
import { waitUntil } from '../helpers/wait-until.js';

const reason = netnsUnavailableReason();
if (reason) console.warn(`skipping nat-binding: ${reason}`);

// A fixed session key for the test only (the control plane hands out a fresh one per session).
const KEY_HEX = '5e55105e55105e55105e55105e55105e55105e55105e55105e55105e55105e55';
const BINDING_ID = 0x00c2c2c2;
const PORT = { fou: 4754, gue: 6080 } as const;
// Two masquerade port ranges: switching between them (plus a conntrack flush) forces a new mapping.
const RANGES = ['20000-29999', '30000-39999'] as const;

/** One engine process in a namespace, driven over stdin. */
class EngineHost {
  readonly events: { reason: string; address: string; port: number }[] = [];
  private readonly waiting = new Map<string, (text: string) => void>();
  private nextId = 1;
  readonly ready: Promise<void>;
  private readonly child: ChildProcess;
  private stderr = '';

  constructor(namespace: string, spec: EngineHostSpec) {
    this.child = spawn('ip', ['netns', 'exec', namespace, process.execPath, testScript('engine-host'), JSON.stringify(spec)], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => { this.stderr += chunk; });
    this.ready = new Promise((resolve, reject) => {
      this.child.on('exit', (code) => reject(new Error(`engine host exited with ${String(code)}: ${this.stderr}`)));
      createInterface({ input: this.child.stdout! }).on('line', (line) => {
        if (line === 'ready') resolve();
        else if (line.startsWith('event ')) this.events.push(JSON.parse(line.slice(6)) as never);
        else {
          const space = line.indexOf(' ');
          this.waiting.get(line.slice(0, space))?.(line.slice(space + 1));
        }
      });
    });
    this.ready.catch(() => undefined);
  }

  private request(op: string): Promise<unknown> {
    const id = String(this.nextId++);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to ${op}: ${this.stderr}`)), 20_000);
      this.waiting.set(id, (text) => {
        clearTimeout(timer);
        this.waiting.delete(id);
        resolve(JSON.parse(text));
      });
      this.child.stdin!.write(`${id} ${op}\n`);
    });
  }

  status(): Promise<TunnelStatusView> {
    return this.request('status') as Promise<TunnelStatusView>;
  }

  probe(timeoutMs: number): Promise<boolean> {
    return this.request(`probe ${timeoutMs}`) as Promise<boolean>;
  }

  /** Kills the engine process outright (its hellos stop mid-session). */
  kill(): void {
    this.child.kill('SIGKILL');
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    await Promise.race([this.request('quit').catch(() => undefined), new Promise((r) => setTimeout(r, 5_000))]);
    this.child.kill('SIGKILL');
  }
}

interface TunnelStatusView {
  state: string;
  rx: { packets: number };
  dropsByReason: Record<string, number>;
  binding: { state: string; address: string | null; port: number | null; counter: string };
}

/** Replies' timestamps from `ping -D`; the gap is the longest time between two replies. */
function replyGapMs(output: string): { replies: number; gapMs: number } {
  const times = [...output.matchAll(/^\[(\d+\.\d+)\] \d+ bytes from/gm)].map((m) => Number(m[1]) * 1000);
  let gap = 0;
  for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i]! - times[i - 1]!);
  return { replies: times.length, gapMs: Math.round(gap) };
}

/** Starts tcpdump in `namespace` and resolves once it listens; `stop()` returns the packets it saw. */
async function startCapture(namespace: string, args: string[]): Promise<{ stop: () => Promise<number>; done: Promise<void> }> {
  const child = spawnIn(namespace, 'tcpdump', ['-n', '-U', ...args]);
  let stderr = '';
  const done = new Promise<void>((resolve) => child.on('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tcpdump did not start: ${stderr}`)), 10_000);
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      if (stderr.includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return {
    done,
    stop: async () => {
      child.kill('SIGINT');
      await done;
      return Number(/(\d+) packets? captured/.exec(stderr)?.[1] ?? NaN);
    },
  };
}

/** The UDP payload of the first packet of a pcap file written from an Ethernet (veth) interface. */
function firstUdpPayload(file: string): Buffer {
  const pcap = readFileSync(file);
  const packet = pcap.subarray(24 + 16, 24 + 16 + pcap.readUInt32LE(24 + 8));
  const ip = packet.subarray(14);
  const udp = ip.subarray((ip[0]! & 0x0f) * 4);
  return udp.subarray(8, udp.readUInt16BE(4));
}

describe.skipIf(reason)('authenticated UDP binding through a NAT that drops GRE and IPIP', () => {
  let topo: NatTopology;
  let dir: string;
  let range = 0;

  const setMasquerade = (): void => {
    execIn(topo.nat, 'nft', ['flush', 'chain', 'ip', 'nat', 'post']);
    const out = ['oifname', `${topo.prefix}nato`];
    execIn(topo.nat, 'nft', ['add', 'rule', 'ip', 'nat', 'post', ...out, 'meta', 'l4proto', 'udp', 'masquerade', 'to', `:${RANGES[range]}`]);
    execIn(topo.nat, 'nft', ['add', 'rule', 'ip', 'nat', 'post', ...out, 'masquerade']);
  };

  beforeAll(() => {
    topo = createNatTopology();
    dir = mkdtempSync(join(tmpdir(), 'tc-nat-binding-'));
    setMasquerade();
  });

  afterAll(() => {
    topo?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    { encap: 'fou' as const, net: 0, framing: '00000000' },
    { encap: 'gue' as const, net: 4, framing: '20020000' },
  ])('$encap: c2 binds by hello, recovers from a NAT re-mapping, and forged or replayed hellos from a third host move nothing', async ({ encap, net, framing }) => {
    const hubInner = `10.77.0.${net + 1}`;
    const c2Inner = `10.77.0.${net + 2}`;
    const common = { encap, port: PORT[encap], keepaliveInterval: 5, helloInterval: 15 };
    const hub = new EngineHost(topo.hub, {
      ...common, name: 'nb-hub', local: topo.addresses.hub, address: `${hubInner}/30`, peerAddress: c2Inner,
      auth: { bindingId: BINDING_ID, key: KEY_HEX, role: 'hub' },
    });
    let c2: EngineHost | undefined;
    try {
      await hub.ready;
      c2 = new EngineHost(topo.c2, {
        ...common, name: 'nb-c2', local: topo.addresses.c2, remote: topo.addresses.hub, address: `${c2Inner}/30`, peerAddress: hubInner,
        auth: { bindingId: BINDING_ID, key: KEY_HEX, role: 'member' },
      });
      await c2.ready;
      const member = c2;
      await waitUntil(async () => (await hub.status()).binding.state === 'bound', 10_000, 'the hub to bind c2');
      await waitUntil(async () => (await member.status()).binding.state === 'acked', 10_000, 'c2 to get an ack');
      const first = (await hub.status()).binding;
      expect(first.address).toBe(topo.addresses.natOutside);
      const [low, high] = RANGES[range]!.split('-').map(Number) as [number, number];
      expect(first.port).toBeGreaterThanOrEqual(low);
      expect(first.port).toBeLessThanOrEqual(high);
      // c2 sees the mapping the NAT made, through the hub's ack.
      expect((await member.status()).binding).toMatchObject({ address: topo.addresses.natOutside, port: first.port });
      expect(await member.probe(2_000)).toBe(true);

      // Both directions through the NAT.
      expect((await execInAsync(topo.c2, 'ping', ['-c', '3', '-i', '0.2', '-W', '2', hubInner])).stdout).toMatch(/3 received/);
      expect((await execInAsync(topo.hub, 'ping', ['-c', '3', '-i', '0.2', '-W', '2', c2Inner])).stdout).toMatch(/3 received/);

      // The NAT forgets everything and maps c2 to another port range.
      const ping = execInAsync(topo.c2, 'ping', ['-D', '-i', '0.02', '-W', '1', '-w', '6', hubInner], 30_000);
      const rxBefore = (await hub.status()).rx.packets;
      await waitUntil(async () => (await hub.status()).rx.packets >= rxBefore + 25, 10_000, 'pings to flow');
      range = 1 - range;
      setMasquerade();
      execIn(topo.nat, 'conntrack', ['-F']);
      const result = await ping;
      const { replies, gapMs } = replyGapMs(result.stdout);
      const moved = (await hub.status()).binding;
      console.info(`nat-binding ${encap}: recovery gap after the NAT re-mapping ${gapMs} ms (${replies} replies); port ${String(first.port)} -> ${String(moved.port)}`);
      expect(moved.address).toBe(topo.addresses.natOutside);
      expect(moved.port).not.toBe(first.port);
      expect(hub.events.map((e) => e.reason)).toEqual(['bound', 'moved']);
      // Pings flowed again after the re-mapping, well before the next periodic hello (15 s).
      const after = await execInAsync(topo.c2, 'ping', ['-c', '3', '-i', '0.2', '-W', '2', hubInner]);
      expect(after.stdout).toMatch(/3 received/);
      expect(replies).toBeGreaterThan(100);
      expect((await hub.status()).dropsByReason['rx:unbound-source'] ?? 0).toBeGreaterThan(0);

      // Capture one real hello on the wan side of the hub.
      const pcap = join(dir, `${encap}-hello.pcap`);
      const helloCapture = await startCapture(topo.wan, ['-i', `${topo.prefix}wanh`, '-c', '1', '-w', pcap, `udp and dst port ${PORT[encap]} and udp[4:2] = 56`]);
      expect(await member.probe(2_000)).toBe(true);
      await Promise.race([helloCapture.done, new Promise((r) => setTimeout(r, 5_000))]);
      await helloCapture.stop();
      const captured = firstUdpPayload(pcap);
      expect(captured.subarray(0, 8).toString('hex')).toBe(`${framing}54484c4f`);

      // From c1 (203.0.113.10): forged hellos and replays of the captured one, while c2 pings.
      const before = await hub.status();
      const forgerCapture = await startCapture(topo.c1, ['-i', `${topo.prefix}c10`, `src host ${topo.addresses.hub}`]);
      const steadyPing = execInAsync(topo.c2, 'ping', ['-c', '40', '-i', '0.05', '-W', '1', hubInner], 30_000);
      const forger = await execInAsync(topo.c1, process.execPath, [
        testScript('hello-forger'), topo.addresses.hub, String(PORT[encap]), '200', '50', String(BINDING_ID), framing, captured.toString('hex'),
      ]);
      expect(forger.code, forger.stderr).toBe(0);
      const steady = await steadyPing;
      const reachedForger = await forgerCapture.stop();
      const afterForgery = await hub.status();
      const received = Number(/(\d+) received/.exec(steady.stdout)?.[1] ?? 0);
      const delta = (key: string): number => (afterForgery.dropsByReason[key] ?? 0) - (before.dropsByReason[key] ?? 0);
      console.info(`nat-binding ${encap}: forged ${delta('rx:hello-bad-mac')} refused, replayed ${delta('rx:hello-replay')} refused, ${received}/40 pings, ${reachedForger} packets reached the forger`);
      expect(reachedForger).toBe(0);
      expect(afterForgery.binding).toMatchObject({ state: 'bound', address: moved.address, port: moved.port });
      expect(delta('rx:hello-bad-mac')).toBe(200);
      expect(delta('rx:hello-replay')).toBe(50);
      expect(received).toBeGreaterThanOrEqual(36);
      expect(hub.events.map((e) => e.reason)).toEqual(['bound', 'moved']);
    } finally {
      await Promise.all([hub.stop(), c2?.stop()]);
    }
  }, 120_000);

  it('when the member\'s hellos stop, the binding expires and the hub sends nothing more toward the stale mapping', async () => {
    const common = { encap: 'fou' as const, keepaliveInterval: 1, helloInterval: 1, bindingTimeout: 3 };
    const hub = new EngineHost(topo.hub, {
      ...common, name: 'nb-hub', local: topo.addresses.hub, address: '10.77.0.9/30', peerAddress: '10.77.0.10',
      auth: { bindingId: BINDING_ID, key: KEY_HEX, role: 'hub' },
    });
    let c2: EngineHost | undefined;
    try {
      await hub.ready;
      c2 = new EngineHost(topo.c2, {
        ...common, name: 'nb-c2', local: topo.addresses.c2, remote: topo.addresses.hub, address: '10.77.0.10/30', peerAddress: '10.77.0.9',
        auth: { bindingId: BINDING_ID, key: KEY_HEX, role: 'member' },
      });
      await c2.ready;
      await waitUntil(async () => (await hub.status()).binding.state === 'bound', 10_000, 'the hub to bind c2');
      // Still bound after several timeouts' worth of time while hellos flow.
      await new Promise((r) => setTimeout(r, 4_000));
      expect((await hub.status()).binding.state).toBe('bound');
      c2.kill();
      await waitUntil(async () => hub.events.some((e) => e.reason === 'expired'), 10_000, 'the binding to expire');
      const status = await hub.status();
      expect([status.state, status.binding.state]).toEqual(['down', 'unbound']);
      const capture = await startCapture(topo.hub, ['-i', `${topo.prefix}hub0`, `udp and dst host ${topo.addresses.natOutside}`]);
      const ping = await execInAsync(topo.hub, 'ping', ['-c', '5', '-i', '0.1', '-W', '1', '10.77.0.10']);
      await new Promise((r) => setTimeout(r, 1_500)); // keepalives included: nothing may leave toward the stale mapping
      const sent = await capture.stop();
      console.info(`nat-binding expiry: ${sent} packets toward the stale mapping after expiry; tx:unbound ${String((await hub.status()).dropsByReason['tx:unbound'])}`);
      expect(ping.stdout).toMatch(/0 received/);
      expect(sent).toBe(0);
      expect((await hub.status()).dropsByReason['tx:unbound'] ?? 0).toBeGreaterThanOrEqual(5);
    } finally {
      await Promise.all([hub.stop(), c2?.stop()]);
    }
  }, 60_000);
});
