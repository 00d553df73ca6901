import { execFileSync, spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeEspFile, type EspLink } from '../helpers/esp-file.js';
import { createPairTopology, execInAsync, runNodeIn, type PairTopology } from '../helpers/netns.js';
import { lastCaptureMs } from '../helpers/pcap-file.js';
import { netnsUnavailableReason } from '../helpers/root.js';
import { testScript } from '../helpers/test-scripts.js';
import { startUp, statusIn, type RunningUp } from '../helpers/tunnel-client-process.js';
import { waitUntil } from '../helpers/wait-until.js';

const reason = netnsUnavailableReason();
if (reason) console.warn(`skipping client-up-esp: ${reason}`);
let tsharkMissing: string | null = null;
try {
  execFileSync('tshark', ['--version'], { stdio: 'ignore' });
} catch {
  tsharkMissing = 'tshark is not installed (`npm run setup:test` installs it)';
  console.warn(`client-up-esp: skipping the Wireshark check: ${tsharkMissing}`);
}

const A_INNER = '10.64.0.1';
const B_INNER = '10.64.0.2';
/** A ping payload pattern that would stand out in a capture if anything crossed in the clear. */
const PATTERN = 'c0ffee5eedc0ffee5eedc0ffee5eed42';

// Two `tunnel-client up --esp` ends on a veth, fast path on: only ESP crosses the wire (tcpdump
// sees no GRE and no inner byte in the clear), Wireshark decrypts it with the SAs, and packets
// injected on the wire that must not open are dropped and counted while the link goes on.
describe.skipIf(reason)('tunnel-client up --esp between two namespaces', () => {
  let topo: PairTopology;
  let state: string;
  let upA: RunningUp | undefined;
  let upB: RunningUp | undefined;
  const link: EspLink = {
    aead: 'aes-gcm', xfrmName: 'rfc4106(gcm(aes))', udpPort: null,
    out: { spi: randomInt(0x1000, 0x7fff_ffff), key: randomBytes(20).toString('hex') },
    in: { spi: randomInt(0x1000, 0x7fff_ffff), key: randomBytes(20).toString('hex') },
  };

  beforeAll(async () => {
    topo = createPairTopology();
    state = mkdtempSync(join(tmpdir(), 'tc-esp-'));
    writeEspFile(join(state, 'a.esp'), link, true);
    writeEspFile(join(state, 'b.esp'), link, false);
    const args = (local: string, remote: string, inner: string, peer: string, file: string, dir: string): string[] => [
      '--local', local, '--remote', remote, '--encap', 'gre', '--esp', file, '--address', `${inner}/30`, '--peer-address', peer,
      '--name', 'tesp0', '--keepalive', '1', '--state', dir,
    ];
    upA = await startUp(topo.a, args(topo.aAddress, topo.bAddress, A_INNER, B_INNER, join(state, 'a.esp'), join(state, 'sa')));
    upB = await startUp(topo.b, args(topo.bAddress, topo.aAddress, B_INNER, A_INNER, join(state, 'b.esp'), join(state, 'sb')));
  });

  afterAll(async () => {
    expect(await upA?.stop()).toBe(0);
    expect(await upB?.stop()).toBe(0);
    topo?.destroy();
    if (state) rmSync(state, { recursive: true, force: true });
  });

  it('puts nothing but ESP on the wire, and Wireshark given the SAs opens it to the inner ICMP with no malformed frame', async () => {
    const capture = join(state, 'wire.pcap');
    const dump = spawn('ip', ['netns', 'exec', topo.a, 'tcpdump', '-i', topo.aInterface, '-U', '-s', '0', '-w', capture, 'ip'], { stdio: 'ignore' });
    // tcpdump writes the file's header once it captures; a keepalive a second then shows it sees the wire.
    await waitUntil(() => existsSync(capture) && statSync(capture).size > 24, 15_000, 'tcpdump to capture');
    const ping = await execInAsync(topo.a, 'ping', ['-c', '5', '-i', '0.2', '-W', '3', '-p', PATTERN, B_INNER]);
    // tcpdump writes packets in order: once one captured after the last echo is in the file (the
    // next keepalive at the latest), so are the echoes.
    const pinged = Date.now();
    await waitUntil(() => lastCaptureMs(capture) > pinged, 5_000, 'tcpdump to write a packet captured after the pings');
    dump.kill('SIGINT');
    await new Promise((resolve) => dump.once('exit', resolve));
    expect(ping.stdout).toMatch(/5 received/);
    const raw = readFileSync(capture);
    expect(raw.includes(Buffer.from(PATTERN, 'hex'))).toBe(false);
    if (tsharkMissing !== null) return;
    const protocols = execFileSync('tshark', ['-r', capture, '-T', 'fields', '-e', 'ip.proto'], { encoding: 'utf8' }).trim().split('\n');
    expect(new Set(protocols)).toEqual(new Set(['50']));
    const sa = (src: string, dst: string, spi: number, key: string): string =>
      `"IPv4","${src}","${dst}","0x${spi.toString(16).padStart(8, '0')}","AES-GCM with 16 octet ICV [RFC4106]","0x${key}","NULL",""`;
    const decode = ['-r', capture, '-o', 'esp.enable_encryption_decode:TRUE',
      '-o', `uat:esp_sa:${sa(topo.aAddress, topo.bAddress, link.out.spi, link.out.key)}`,
      '-o', `uat:esp_sa:${sa(topo.bAddress, topo.aAddress, link.in.spi, link.in.key)}`];
    const echoes = execFileSync('tshark', [...decode, '-Y', 'icmp', '-T', 'fields', '-e', 'icmp.type', '-e', 'ip.src', '-e', 'data.data'], { encoding: 'utf8' })
      .trim().split('\n').map((line) => line.split('\t'));
    const requests = echoes.filter(([type, src]) => type === '8' && src?.includes(A_INNER));
    const replies = echoes.filter(([type, src]) => type === '0' && src?.includes(B_INNER));
    expect(requests.length).toBeGreaterThanOrEqual(5);
    expect(replies.length).toBeGreaterThanOrEqual(5);
    expect(requests[0]![2]).toContain(PATTERN);
    const malformed = execFileSync('tshark', [...decode, '-Y', '_ws.malformed || _ws.expert.severity == error'], { encoding: 'utf8' }).trim();
    expect(malformed).toBe('');
  });

  it('drops and counts a replayed, a tampered and an unknown-SPI packet injected on the wire, and genuine traffic goes on', async () => {
    const before = statusIn(topo.a, join(state, 'sa')).tunnels[0]!;
    await runNodeIn(topo.b, testScript('esp-inject'), [topo.bAddress, topo.aAddress, String(link.in.spi), link.in.key, link.aead]);
    const grew = (reasonName: string): number => (statusIn(topo.a, join(state, 'sa')).tunnels[0]!.dropsByReason[reasonName] ?? 0)
      - (before.dropsByReason[reasonName] ?? 0);
    await waitUntil(() => grew('rx:replay') === 1 && grew('rx:auth') === 1 && grew('rx:no-sa') === 1, 5_000, 'the three refusals counted');
    const ping = await execInAsync(topo.a, 'ping', ['-c', '3', '-i', '0.2', '-W', '3', B_INNER]);
    expect(ping.stdout).toMatch(/3 received/);
    const after = statusIn(topo.a, join(state, 'sa')).tunnels[0]!;
    expect(after).toMatchObject({ encrypted: true, aead: 'aes-gcm', spiIn: [link.in.spi], spiOut: link.out.spi });
    expect(after.fastPath.rxPackets).toBeGreaterThan(0);
    expect(JSON.stringify(after)).not.toContain(link.in.key.slice(0, 16));
  });
});
