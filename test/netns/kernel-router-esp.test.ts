import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliIn, startServe, type CliProcess } from '../helpers/control-processes.js';
import { waitUntil } from '../helpers/wait-until.js';
import { kernelPeerUnavailableReason, startKernelPeer, type KernelPeer } from '../helpers/kernel-peer.js';
import { createNamespaces, deleteNamespaces, execInAsync, uniquePrefix } from '../helpers/netns.js';
import { netnsUnavailableReason } from '../helpers/root.js';

const reason = netnsUnavailableReason() ?? kernelPeerUnavailableReason();
if (reason) console.warn(`skipping kernel-router-esp: ${reason}`);

const HUB = '198.51.100.1';
const GUEST = '198.51.100.10';

/** The guest's xfrm input errors: no state for an SPI, an ICV or protocol failure, cleartext where a policy wants ESP. */
async function xfrmInputErrors(guest: KernelPeer): Promise<Record<string, number>> {
  const stat = await guest.run('grep -E "XfrmInStateProtoError|XfrmInNoStates|XfrmInTmplMismatch|XfrmInStateSeqError" /proc/net/xfrm_stat');
  return Object.fromEntries(stat.trim().split('\n').map((line) => {
    const [name, value] = line.trim().split(/\s+/);
    return [name!, Number(value)];
  }));
}

// A router (Debian's kernel in qemu) applies the hub's `peer config NAME linux` for an encrypted
// link verbatim: the static SAs the hub renders must be the ones its userspace end runs.
describe.skipIf(reason)('an encrypted kernel router: config linux with ip xfrm, against the hub\'s own end', () => {
  const prefix = uniquePrefix();
  const hubNs = `${prefix}hub`;
  const bridge = `${prefix}br`;
  let dir: string;
  let hubState: string;
  let hub: CliProcess | undefined;
  let guest: KernelPeer | undefined;

  const hubCli = (...args: string[]): Promise<string> => runCliIn(hubNs, 'server', ['--state', hubState, ...args]);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tc-kernel-router-esp-'));
    hubState = join(dir, 'hub');
    createNamespaces([hubNs]);
    const ip = (...args: string[]): void => { execFileSync('ip', ['-n', hubNs, ...args], { stdio: 'pipe' }); };
    ip('link', 'add', bridge, 'type', 'bridge');
    ip('addr', 'add', `${HUB}/24`, 'dev', bridge);
    ip('link', 'set', bridge, 'up');
    const [booted] = await Promise.all([
      startKernelPeer({ namespace: hubNs, bridge }),
      (async () => {
        await hubCli('init', '--endpoint', HUB, '--pool', '10.1.12.0/24');
        hub = await startServe(hubNs, hubState, ['--listen', HUB]);
      })(),
    ]);
    guest = booted;
    console.log(`kernel guest ready in ${String(guest.bootMs)} ms`);
    await guest.run([`ip addr add ${GUEST}/24 dev eth0`, 'load-modules esp'].join('\n'));
  });

  afterAll(async () => {
    await guest?.stop();
    await hub?.stop();
    deleteNamespaces([hubNs]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('pings both ways, carries 1 MiB intact, and the wire shows ESP only', async () => {
    await hubCli('peer', 'add', 'kesp');
    expect(await hubCli('peer', 'set', 'kesp', '--encrypt', 'on')).toMatch(/encryption on/);
    const key = (await hubCli('peer', 'update-key', 'kesp')).trim();
    // The router reports its address first: its SAs name it.
    expect(await guest!.run(`wget -qO- 'http://kesp:${key}@${HUB}:8443/nic/update?hostname=kesp'`)).toBe(`good ${GUEST}`);
    const table = JSON.parse(await hubCli('peer', 'table', 'kesp', '--json')) as { ends: { inner: string }[] };
    const [hubInner, guestInner] = [table.ends[0]!.inner, table.ends[1]!.inner];
    const config = await hubCli('peer', 'config', 'kesp', 'linux');
    expect(config).toMatch(new RegExp(`^ip xfrm state add src ${GUEST.replace(/\./g, '\\.')} dst ${HUB.replace(/\./g, '\\.')} proto esp spi 0x[0-9a-f]{8} mode transport aead 'rfc4106\\(gcm\\(aes\\)\\)' 0x[0-9a-f]+ 128$`, 'm'));
    expect(config).toMatch(/^ip xfrm policy add .* proto 47 dir out tmpl .* proto esp mode transport$/m);
    await guest!.run(config);
    const before = await xfrmInputErrors(guest!);

    const wire = join(dir, 'bridge.pcap');
    const tcpdump = spawn('ip', ['netns', 'exec', hubNs, 'tcpdump', '-Z', 'root', '-i', bridge, '-U', '-n', '-w', wire, 'host', GUEST], { stdio: ['ignore', 'ignore', 'pipe'] });
    let said = '';
    tcpdump.stderr.setEncoding('utf8').on('data', (chunk: string) => (said += chunk));
    const stopped = new Promise<void>((resolve) => tcpdump.on('exit', () => resolve()));
    try {
      await waitUntil(() => /listening on/.test(said), 10_000, () => `tcpdump: ${said}`);
      await waitUntil(async () => (await execInAsync(hubNs, 'ping', ['-c', '1', '-W', '1', guestInner], 5_000)).code === 0, 15_000, 'hub -> guest through ESP');
      expect(await guest!.run(`ping -c 3 -W 2 ${hubInner} | grep -c 'bytes from'`)).toBe('3');
      const expected = (await guest!.run('sha256sum /srv/1m.bin')).split(/\s+/)[0];
      const fetched = await execInAsync(hubNs, 'sh', ['-c', `curl -sS --max-time 90 http://${guestInner}/1m.bin | sha256sum`], 120_000);
      expect(fetched.stdout.split(/\s+/)[0]).toBe(expected);
    } finally {
      tcpdump.kill('SIGINT');
      await stopped;
    }
    const count = (filter: string): number =>
      execFileSync('tcpdump', ['-r', wire, '-n', filter], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n').filter((l) => l.trim()).length;
    const esp = count('ip proto 50');
    const gre = count('ip proto 47');
    console.log(`router link on the wire: ${esp} ESP packets, ${gre} GRE`);
    expect(esp).toBeGreaterThan(500);
    expect(gre).toBe(0);
    expect(await xfrmInputErrors(guest!)).toEqual(before);
    const peer = (JSON.parse(await hubCli('status', '--json')) as { peers: { name: string; encrypted: boolean; esp: string | null; dropsByReason: Record<string, number> | null }[] })
      .peers.find((p) => p.name === 'kesp');
    expect(peer).toMatchObject({ encrypted: true, esp: 'raw' });
    expect(peer?.dropsByReason?.['rx:auth'] ?? 0).toBe(0);
  });
});
