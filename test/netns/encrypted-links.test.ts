import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveLinkSaPair, LINK_AEAD } from '../../server/control/link-sa-keys.js';
import { generateEd25519KeyPair } from '../../shared/ssh/generate-ed25519-key-pair.js';
import { runCliIn, startCli, startServe, type CliProcess } from '../helpers/control-processes.js';
import { waitUntil } from '../helpers/wait-until.js';
import { createNatTopology, execIn, execInAsync, type NatTopology } from '../helpers/netns.js';
import { capture, countMatching, lastCaptureMs } from '../helpers/pcap-file.js';
import { netnsUnavailableReason } from '../helpers/root.js';

const reason = netnsUnavailableReason();
if (reason) console.warn(`skipping encrypted link netns tests: ${reason}`);

const HUB = '198.51.100.1';
/** Pool 10.1.12.0/24: c1's hub link .0/30, c2's .4/30, the c1<->c2 link .8/30. */
const INNER = { hubForC1: '10.1.12.1', c1OnHubLink: '10.1.12.2', hubForC2: '10.1.12.5', c1OnLink: '10.1.12.9', c2OnLink: '10.1.12.10' };
/** The payload pattern of every ping here: the wire must never show it. */
const PATTERN = '5a17c0de0badf00d5a17c0de0badf00d';

interface PeerStatus {
  name: string;
  connected: boolean;
  encap: string;
  encrypted: boolean;
  esp: 'raw' | 'udp' | null;
  aead: string | null;
  spiIn: number[];
  spiOut: number | null;
  saAgeSeconds: number | null;
  rekey: { epoch: number; phase: string } | null;
  dropsByReason: Record<string, number> | null;
}

/** ping's "N packets transmitted, M received". */
function pingCounts(stdout: string): { sent: number; received: number } {
  const match = /(\d+) packets transmitted, (\d+) received/.exec(stdout);
  if (!match) throw new Error(`no ping summary in: ${stdout.slice(-300)}`);
  return { sent: Number(match[1]), received: Number(match[2]) };
}

describe.skipIf(reason !== null)('encrypted links end to end: the hub, c1 (public) and c2 (behind a NAT that drops GRE) over SSH', () => {
  let topo: NatTopology;
  let dir: string;
  let hubState: string;
  let hub: CliProcess | undefined;
  const members: CliProcess[] = [];

  const hubCli = (args: string[]): Promise<string> => runCliIn(topo.hub, 'server', ['--state', hubState, ...args]);
  const peers = async (): Promise<PeerStatus[]> => (JSON.parse(await hubCli(['status', '--json'])) as { peers: PeerStatus[] }).peers;
  const peer = async (name: string): Promise<PeerStatus | undefined> => (await peers()).find((p) => p.name === name);
  const pingOk = async (ns: string, target: string): Promise<boolean> =>
    (await execInAsync(ns, 'ping', ['-c', '1', '-W', '1', '-p', PATTERN, target], 5_000)).code === 0;

  async function joinOverSsh(name: string, namespace: string): Promise<CliProcess> {
    const pair = generateEd25519KeyPair('test');
    const keyFile = join(dir, `${name}-key`);
    writeFileSync(keyFile, pair.private, { mode: 0o600 });
    await hubCli(['peer', 'add', name, '--ssh-key', pair.public]);
    const member = startCli(namespace, 'client', ['join', `ssh://${name}@${HUB}:2222`, '--key', keyFile, '--state', join(dir, name)]);
    members.push(member);
    await waitUntil(() => /tnl-hub up/.test(member.output()), 20_000, () => `${name} join: ${member.output()}`);
    return member;
  }

  beforeAll(async () => {
    topo = createNatTopology();
    dir = mkdtempSync(join(tmpdir(), 'tunnel-esp-links-'));
    hubState = join(dir, 'hub');
    await hubCli(['init', '--endpoint', HUB, '--pool', '10.1.12.0/24']);
    hub = await startServe(topo.hub, hubState, ['--listen', HUB, '--encrypt', 'on', '--keepalive', '0.5', '--liveness-timeout', '3', '--path-keepalive', '1']);
  });

  afterAll(async () => {
    for (const member of members) await member.stop('SIGKILL');
    await hub?.stop();
    topo?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('c1 (public) joins over SSH and pings the hub through GRE in raw ESP', async () => {
    await joinOverSsh('c1', topo.c1);
    await waitUntil(() => pingOk(topo.c1, INNER.hubForC1), 15_000, 'c1 -> hub through ESP');
    expect(await pingOk(topo.hub, INNER.c1OnHubLink)).toBe(true);
    const c1 = await waitUntil(async () => ((await peer('c1'))?.spiOut ? peer('c1') : undefined), 10_000, 'c1 status with SAs');
    expect(c1).toMatchObject({ encap: 'gre', encrypted: true, esp: 'raw', aead: 'aes-gcm' });
    expect(c1.spiIn.length).toBeGreaterThanOrEqual(1);
    expect(c1.dropsByReason).toMatchObject({ 'rx:auth': 0, 'rx:replay': 0 });
  });

  it('c2 (behind the NAT) joins over SSH and pings the hub through ESP in UDP', async () => {
    await joinOverSsh('c2', topo.c2);
    await waitUntil(() => pingOk(topo.c2, INNER.hubForC2), 20_000, () => `c2 -> hub through ESP in UDP: ${members[1]?.output() ?? ''}`);
    const c2 = await waitUntil(async () => ((await peer('c2'))?.spiOut ? peer('c2') : undefined), 10_000, 'c2 status with SAs');
    expect(c2).toMatchObject({ encrypted: true, esp: 'udp', aead: 'aes-gcm' });
  });

  it('c1 and c2 ping each other over their own encrypted link', async () => {
    await hubCli(['link', 'add', 'c1', 'c2']);
    await waitUntil(() => pingOk(topo.c2, INNER.c1OnLink), 25_000, 'c2 -> c1 over the link');
    await waitUntil(() => pingOk(topo.c1, INNER.c2OnLink), 10_000, 'c1 -> c2 over the link');
    // Both ends run the link's one epoch: each opens what the other seals.
    const end = (ns: string, name: string, tunnel: string): { spiIn: number[]; spiOut: number | null; encrypted: boolean } =>
      (JSON.parse(execIn(ns, process.execPath, [join(process.cwd(), 'dist/client/cli.js'), 'status', '--json', '--state', join(dir, name)])) as
        { tunnels: { name: string; spiIn: number[]; spiOut: number | null; encrypted: boolean }[] }).tunnels.find((t) => t.name === tunnel)!;
    const c1End = end(topo.c1, 'c1', 'tnl-c2');
    const c2End = end(topo.c2, 'c2', 'tnl-c1');
    expect(c1End.encrypted && c2End.encrypted).toBe(true);
    expect(c2End.spiIn).toContain(c1End.spiOut);
    expect(c1End.spiIn).toContain(c2End.spiOut);
  });

  it('the WAN carries only ESP and ESP in UDP besides the control channel: no GRE, FOU or GUE, no inner byte', async () => {
    const wire = join(dir, 'wan.pcap');
    const inner = join(dir, 'inner.pcap');
    const wan = await capture(topo.wan, 'any', wire);
    // The control: the same pings seen inside c1's tunnel carry the pattern in the clear.
    const tun = await capture(topo.c1, 'tnl-hub', inner);
    const pings = await Promise.all([
      execInAsync(topo.c1, 'ping', ['-c', '20', '-i', '0.05', '-W', '1', '-p', PATTERN, INNER.hubForC1], 10_000),
      execInAsync(topo.c2, 'ping', ['-c', '20', '-i', '0.05', '-W', '1', '-p', PATTERN, INNER.hubForC2], 10_000),
      execInAsync(topo.c1, 'ping', ['-c', '20', '-i', '0.05', '-W', '1', '-p', PATTERN, INNER.c2OnLink], 10_000),
      execInAsync(topo.c2, 'ping', ['-c', '20', '-i', '0.05', '-W', '1', '-p', PATTERN, INNER.c1OnLink], 10_000),
    ]);
    // tcpdump writes packets in order: once one captured after the pings is in the WAN file (a
    // keepalive within half a second), so is every ping; the tunnel's file is awaited until the
    // pattern is in it.
    const pinged = Date.now();
    const pattern = Buffer.from(PATTERN, 'hex');
    await waitUntil(() => lastCaptureMs(wire) > pinged, 5_000, 'tcpdump to write a WAN packet captured after the pings');
    await waitUntil(() => readFileSync(inner).includes(pattern), 5_000, 'the ping pattern in the tunnel capture');
    await wan.stop();
    await tun.stop();
    for (const ping of pings) expect(pingCounts(ping.stdout).received).toBeGreaterThanOrEqual(19);
    expect(readFileSync(wire).includes(pattern)).toBe(false);
    const esp = countMatching(wire, 'ip proto 50');
    const espInUdp = countMatching(wire, 'udp port 4500');
    const cleartext = countMatching(wire, 'ip proto 47 or ip proto 4 or ip proto 41 or (udp and not port 4500)');
    console.log(`on the WAN during 80 pings: ${esp} raw ESP, ${espInUdp} ESP in UDP, ${cleartext} GRE/IPIP/other UDP packets`);
    // Every ping and reply crosses the router (seen twice on its veths); the capture may miss the
    // first few packets after tcpdump says it listens, hence half the full count.
    expect(esp).toBeGreaterThanOrEqual(40);
    expect(espInUdp).toBeGreaterThanOrEqual(80);
    expect(cleartext).toBe(0);
  });

  it('a member on plain ws:// whose link must be encrypted is refused with ERR_INSECURE_CHANNEL and nothing is configured', async () => {
    const invite = (await hubCli(['invite', 'create'])).trim();
    const before = execIn(topo.hub, 'ip', ['-o', 'link', 'show']);
    const c3 = startCli(topo.nat, 'client', ['join', `ws://${HUB}:8443`, '--token', invite, '--name', 'c3', '--state', join(dir, 'c3')]);
    members.push(c3);
    const code = await Promise.race([c3.exited, new Promise<'running'>((resolve) => setTimeout(() => resolve('running'), 20_000))]);
    expect(code, c3.output()).not.toBe(0);
    expect(code, c3.output()).not.toBe('running');
    expect(c3.output()).toMatch(/ERR_INSECURE_CHANNEL/);
    expect(c3.output()).toMatch(/wss:\/\/|ssh:\/\//);
    expect(execIn(topo.nat, 'ip', ['-o', 'link', 'show'])).not.toMatch(/tnl-/);
    expect(execIn(topo.hub, 'ip', ['-o', 'link', 'show'])).not.toMatch(/tnl-c3/);
    expect(execIn(topo.hub, 'ip', ['-o', 'link', 'show']).split('\n').length).toBe(before.split('\n').length);
    const saved = join(dir, 'c3', 'client.json');
    if (existsSync(saved)) expect((JSON.parse(readFileSync(saved, 'utf8')) as { config?: { tunnels?: unknown[] } }).config?.tunnels ?? []).toEqual([]);
    expect(await peer('c3')).toMatchObject({ connected: false });
  });

  it('`peer rekey c1` under pings every 10 ms: new SAs on both ends, nothing lost beyond 2 packets', async () => {
    const before = await peer('c1');
    const ping = execInAsync(topo.c1, 'ping', ['-c', '800', '-i', '0.01', '-W', '1', '-p', PATTERN, INNER.hubForC1], 30_000);
    // Pings in flight before the rekey, so it lands mid-stream.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await hubCli(['peer', 'rekey', 'c1']);
    const after = await waitUntil(async () => {
      const status = await peer('c1');
      return status?.spiOut !== before?.spiOut && status?.rekey?.phase === 'steady' ? status : undefined;
    }, 25_000, 'c1 rekeyed and steady');
    const { sent, received } = pingCounts((await ping).stdout);
    console.log(`peer rekey c1 under 10 ms pings: ${sent} sent, ${received} received; SPI out ${String(before?.spiOut)} -> ${String(after.spiOut)}, epoch ${String(before?.rekey?.epoch)} -> ${String(after.rekey?.epoch)}`);
    expect(after.rekey!.epoch).toBeGreaterThan(before!.rekey!.epoch);
    expect(after.spiIn).not.toContain(before!.spiIn[0]);
    expect(sent - received).toBeLessThanOrEqual(2);
    expect(after.dropsByReason).toMatchObject({ 'rx:auth': 0 });
  });
  it('no SA key of any link and epoch so far is in the hub\'s or a member\'s log, status --json or stored specs', async () => {
    const database = readdirSync(hubState).find((file) => /\.(db|sqlite3?)$/.test(file));
    expect(database).toBeDefined();
    const master = execFileSync('sqlite3', [join(hubState, database!), "SELECT value FROM cluster_secrets WHERE name = 'esp-master-key'"], { encoding: 'utf8' }).trim();
    expect(master).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const keys: Buffer[] = [];
    const spis = new Set<number>();
    for (const linkId of [1, 2, 3]) {
      for (let epoch = 1; epoch <= 12; epoch++) {
        const pair = deriveLinkSaPair(Buffer.from(master, 'base64url'), { kind: 'member', linkId }, epoch, LINK_AEAD);
        keys.push(pair.firstToSecond.key, pair.secondToFirst.key);
        spis.add(pair.firstToSecond.spi).add(pair.secondToFirst.spi);
      }
    }
    const clientStatus = (ns: string, name: string): string =>
      execIn(ns, process.execPath, [join(process.cwd(), 'dist/client/cli.js'), 'status', '--json', '--state', join(dir, name)]);
    const stored = execFileSync('sqlite3', [join(hubState, database!), '.dump'], { encoding: 'utf8' }).replace(/INSERT INTO cluster_secrets[^\n]*\n/g, '');
    const places = {
      hubLog: hub!.output(), hubStatus: await hubCli(['status', '--json']), peerShow: await hubCli(['peer', 'show', 'c1']),
      c1Log: members[0]!.output(), c2Log: members[1]!.output(), c1Status: clientStatus(topo.c1, 'c1'), c2Status: clientStatus(topo.c2, 'c2'), registry: stored,
    };
    // The live SAs are among those derived: c1's hub link runs one of their SPIs.
    expect(keys.length).toBe(72);
    expect(spis.has((await peer('c1'))!.spiOut!)).toBe(true);
    for (const [place, text] of Object.entries(places)) {
      for (const key of keys) {
        for (const form of [key.toString('hex').slice(0, 16), key.toString('base64url').slice(0, 16), key.toString('base64').slice(0, 16)]) {
          expect(text.includes(form), `${place} holds a key`).toBe(false);
        }
      }
    }
  });

  it('a member restart and a hub restart both come back encrypted, each on a new epoch', async () => {
    const before = (await peer('c1'))!;
    await members[0]!.stop();
    const again = startCli(topo.c1, 'client', ['run', '--state', join(dir, 'c1')]);
    members.push(again);
    const afterMember = await waitUntil(async () => {
      const status = await peer('c1');
      return status?.connected && status.rekey && status.rekey.epoch > before.rekey!.epoch && (await pingOk(topo.c1, INNER.hubForC1)) ? status : undefined;
    }, 30_000, `c1 back encrypted: ${again.output()}`);
    expect(afterMember).toMatchObject({ encrypted: true, esp: 'raw' });
    expect(afterMember.spiOut).not.toBe(before.spiOut);

    await hub!.stop();
    hub = await startServe(topo.hub, hubState, ['--listen', HUB, '--encrypt', 'on', '--keepalive', '0.5', '--liveness-timeout', '3', '--path-keepalive', '1']);
    const afterHub = await waitUntil(async () => {
      const status = await peer('c1');
      return status?.connected && status.rekey && status.rekey.epoch > afterMember.rekey!.epoch && (await pingOk(topo.c1, INNER.hubForC1)) ? status : undefined;
    }, 40_000, 'c1 back encrypted after the hub restarted');
    expect(afterHub).toMatchObject({ encrypted: true, esp: 'raw' });
    await waitUntil(() => pingOk(topo.c2, INNER.hubForC2), 20_000, 'c2 back through ESP in UDP after the hub restarted');
    console.log(`restarts: c1 epoch ${String(before.rekey?.epoch)} -> ${String(afterMember.rekey?.epoch)} (member) -> ${String(afterHub.rekey?.epoch)} (hub)`);
  });
});
