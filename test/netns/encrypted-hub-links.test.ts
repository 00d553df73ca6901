import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveLinkSaPair } from '../../server/control/link-sa-keys.js';
import { Registry } from '../../server/registry/registry.js';
import { startClusterLab, type ClusterLab, type ClusterProcesses, type ClusterHubName, type ClusterMemberName } from '../helpers/cluster-processes.js';
import type { ClusterTopology } from '../helpers/cluster-topology.js';
import { startCli, type CliProcess } from '../helpers/control-processes.js';
import { execInAsync } from '../helpers/netns.js';
import { capture, countMatching, lastCaptureMs } from '../helpers/pcap-file.js';
import { postgresUnavailableReason } from '../helpers/postgres-server.js';
import { netnsUnavailableReason } from '../helpers/root.js';
import { waitUntil } from '../helpers/wait-until.js';

function opensslUnavailableReason(): string | null {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return null;
  } catch {
    return 'openssl is missing: no certificate for wss://';
  }
}

const reason = netnsUnavailableReason() ?? postgresUnavailableReason() ?? opensslUnavailableReason();
if (reason) console.warn(`skipping the encrypted hub<->hub link netns tests: ${reason}`);

/** The rekey interval and grace of both hubs: the hub link gets a new epoch every 10 s, switched to 5 s later. */
const REKEY = ['--rekey-interval', '10s', '--rekey-grace', '3s'];
/** The payload pattern of every ping here: the wire must never show it. */
const PATTERN = '6b1dc0de0badf00d6b1dc0de0badf00d';

interface HubLinkEncryption {
  encrypted: boolean;
  aead: string | null;
  spiIn: number[];
  spiOut: number | null;
  saAgeSeconds: number | null;
  dropsByReason: Record<string, number>;
}
interface HubLinkLine { hub: string; tunnel: string; encap: string; state: string | null; encryption: HubLinkEncryption | null }

/** ping's "N packets transmitted, M received". */
function pingCounts(stdout: string): { sent: number; received: number } {
  const match = /(\d+) packets transmitted, (\d+) received/.exec(stdout);
  if (!match) throw new Error(`no ping summary in: ${stdout.slice(-300)}`);
  return { sent: Number(match[1]), received: Number(match[2]) };
}

/** Every property name anywhere in a JSON value. */
function propertyNames(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(propertyNames);
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([name, inner]) => [name, ...propertyNames(inner)]);
}

describe.skipIf(reason !== null)('an encrypted hub<->hub link: two hubs on wss:// with --encrypt on, a member on each', () => {
  let topo: ClusterTopology;
  let lab: ClusterLab | undefined;
  let cluster: ClusterProcesses;
  let certFile: string;
  const procs = new Map<string, CliProcess>();

  const statusOf = async (hub: ClusterHubName): Promise<{ text: string; link: HubLinkLine | undefined }> => {
    const text = await cluster.hubCli(hub, ['status', '--json']);
    return { text, link: (JSON.parse(text) as { hubLinks: HubLinkLine[] }).hubLinks[0] };
  };
  /**
   * The hub's WAN captured into FILE (beside the hub's state) while c1 and c2 ping each other 30
   * times each with PATTERN; checks the pings were answered and returns the capture's path.
   */
  const captureMemberPings = async (file: string): Promise<string> => {
    const wire = join(cluster.state('hub'), '..', file);
    const wan = await capture(topo.hub, `${topo.prefix}hub0`, wire);
    const pings = await Promise.all([
      execInAsync(topo.c1, 'ping', ['-c', '30', '-i', '0.05', '-W', '1', '-p', PATTERN, cluster.innerOf('c2')], 10_000),
      execInAsync(topo.c2, 'ping', ['-c', '30', '-i', '0.05', '-W', '1', '-p', PATTERN, cluster.innerOf('c1')], 10_000),
    ]);
    // A packet captured after the pings (a keepalive within a second) means every ping is in the file.
    const pinged = Date.now();
    await waitUntil(() => lastCaptureMs(wire) > pinged, 5_000, 'tcpdump to write a packet captured after the pings');
    await wan.stop();
    for (const ping of pings) expect(pingCounts(ping.stdout).received).toBeGreaterThanOrEqual(29);
    return wire;
  };
  const pingOk = async (from: ClusterMemberName, target: string): Promise<boolean> =>
    (await execInAsync(cluster.namespace(from), 'ping', ['-c', '1', '-W', '1', '-p', PATTERN, target], 5_000)).code === 0;

  /** Joins a member over wss:// with an invite of `hub`, trusting the test's certificate. */
  async function joinOverWss(member: ClusterMemberName, hub: ClusterHubName): Promise<void> {
    const invite = (await cluster.hubCli(hub, ['invite', 'create'])).trim();
    const proc = startCli(cluster.namespace(member), 'client', ['join', `wss://${cluster.address(hub)}:8443`, '--token', invite, '--name', member,
      '--state', cluster.state(member), '--ca', certFile]);
    procs.set(member, proc);
    await waitUntil(() => /tnl-hub up/.test(proc.output()), 20_000, () => `${member} join: ${proc.output()}`);
  }

  beforeAll(async () => {
    lab = await startClusterLab('tunnel-esp-hub-links-');
    ({ topo, cluster } = lab);
    const dir = join(cluster.state('hub'), '..');
    certFile = join(dir, 'cert.pem');
    const keyFile = join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=hubs',
      '-addext', `subjectAltName=IP:${cluster.address('hub')},IP:${cluster.address('hub2')}`, '-keyout', keyFile, '-out', certFile], { stdio: 'pipe' });
    for (const hub of ['hub', 'hub2'] as const) {
      procs.set(hub, await cluster.serve(hub, ['--tls-cert', certFile, '--tls-key', keyFile, '--encrypt', 'on', '--path-keepalive', '1', ...REKEY]));
    }
  });
  afterAll(async () => {
    for (const proc of procs.values()) await proc.stop('SIGKILL');
    lab?.close();
  });

  it('c1 (on hub) and c2 (on hub2) join over wss:// and ping each other across the hub link', async () => {
    await joinOverWss('c1', 'hub');
    await joinOverWss('c2', 'hub2');
    await waitUntil(() => pingOk('c1', cluster.innerOf('c2')), 20_000, 'c1 -> c2 across the hub link');
    expect(await pingOk('c2', cluster.innerOf('c1'))).toBe(true);
  });

  it('both hubs\' status --json show the hub link encrypted, each sealing with an SPI the other opens, and no key', async () => {
    const [hub, hub2] = await waitUntil(async () => {
      const both = await Promise.all([statusOf('hub'), statusOf('hub2')]);
      return both.every((s) => s.link?.encryption?.spiOut) ? both : undefined;
    }, 10_000, 'both hub link ends with SAs');
    for (const [status, other] of [[hub, 'hub2'], [hub2, 'hub']] as const) {
      expect(status.link).toMatchObject({ hub: other, tunnel: `hub-${other}`, encap: 'gre', state: 'up', encryption: { encrypted: true, aead: 'aes-gcm' } });
      // No field named for a key (`key`, `keys`, `…Key`); `rekey` is the rekey state.
      expect(propertyNames(JSON.parse(status.text)).filter((name) => /^keys?$|Keys?$/.test(name))).toEqual([]);
    }
    expect(hub2.link!.encryption!.spiIn).toContain(hub.link!.encryption!.spiOut);
    expect(hub.link!.encryption!.spiIn).toContain(hub2.link!.encryption!.spiOut);
  });

  it('between the hubs the WAN carries only ESP: no GRE, IPIP, FOU or GUE, and no byte of the pings', async () => {
    const wire = await captureMemberPings('hub-wan.pcap');
    const between = `host ${cluster.address('hub')} and host ${cluster.address('hub2')}`;
    const esp = countMatching(wire, `${between} and ip proto 50`);
    const cleartext = countMatching(wire, `${between} and (ip proto 47 or ip proto 4 or ip proto 41 or udp)`);
    const membersEsp = countMatching(wire, `not (${between}) and (ip proto 50 or udp port 4500)`);
    const membersCleartext = countMatching(wire, `not (${between}) and (ip proto 47 or ip proto 4 or ip proto 41 or (udp and not port 4500))`);
    console.log(`on hub's WAN during 60 member<->member pings: hub<->hub2 ${esp} ESP, ${cleartext} GRE/IPIP/UDP; hub<->c1 ${membersEsp} ESP, ${membersCleartext} cleartext`);
    // Each ping and its reply cross the hub link once each way.
    expect(esp).toBeGreaterThanOrEqual(110);
    expect(cleartext).toBe(0);
    expect(membersEsp).toBeGreaterThanOrEqual(110);
    expect(membersCleartext).toBe(0);
    expect(readFileSync(wire).includes(Buffer.from(PATTERN, 'hex'))).toBe(false);
  });

  it('pings every 10 ms from c1 to c2 across hub link rekeys (every 10 s, grace 3 s) lose nothing', async () => {
    const registry = await Registry.open(lab!.pg.url('cluster'), { readonly: true });
    try {
      const linkId = (await registry.hubLinks.list())[0]!.id;
      const epochsBefore = await registry.saEpochs.history({ kind: 'hub', hubLinkId: linkId });
      const seen: number[] = [];
      let polling = true;
      const poll = (async () => {
        while (polling) {
          const spi = (await statusOf('hub')).link?.encryption?.spiOut;
          if (spi && seen.at(-1) !== spi) seen.push(spi);
          await new Promise((resolve) => setTimeout(resolve, 300));
        }
      })();
      const ping = await execInAsync(topo.c1, 'ping', ['-c', '2500', '-i', '0.01', '-W', '2', '-p', PATTERN, cluster.innerOf('c2')], 60_000);
      polling = false;
      await poll;
      const epochsAfter = await registry.saEpochs.history({ kind: 'hub', hubLinkId: linkId });
      const { sent, received } = pingCounts(ping.stdout);
      const { link } = await statusOf('hub');
      console.log(`c1 -> c2 every 10 ms for ${sent} pings: ${received} answered; hub's SPI out went ${seen.map((spi) => spi.toString(16)).join(' -> ')}; `
        + `hub link epoch ${String(epochsBefore[0]?.epoch)} -> ${String(epochsAfter[0]?.epoch)}; hub's drops ${JSON.stringify(link?.encryption?.dropsByReason)}`);
      expect(epochsAfter[0]!.epoch).toBeGreaterThan(epochsBefore[0]!.epoch);
      expect(epochsAfter[0]!.reason).toBe('interval');
      expect(seen.length).toBeGreaterThanOrEqual(2);
      expect(sent).toBe(2500);
      expect(received).toBe(sent);
      expect(link?.encryption?.dropsByReason).toMatchObject({ 'rx:auth': 0, 'rx:no-sa': 0, 'tx:no-sa': 0 });
    } finally {
      await registry.close();
    }
  });

  it('the hub link pinned to FOU runs ESP in UDP 4500 between the hubs: pings answered, no GRE, FOU or other UDP, no payload byte', async () => {
    await cluster.hubCli('hub', ['hubs', 'link', 'hub', 'hub2', '--encap', 'fou']);
    const [hub, hub2] = await waitUntil(async () => {
      const both = await Promise.all([statusOf('hub'), statusOf('hub2')]);
      return both.every((s) => s.link?.encap === 'fou' && s.link.encryption?.spiOut) ? both : undefined;
    }, 15_000, 'both hub link ends on fou with SAs');
    expect(hub.link?.encryption).toMatchObject({ encrypted: true, aead: 'aes-gcm' });
    expect(hub2.link!.encryption!.spiIn).toContain(hub.link!.encryption!.spiOut);
    await waitUntil(() => pingOk('c1', cluster.innerOf('c2')), 15_000, 'c1 -> c2 across the hub link on fou');
    const wire = await captureMemberPings('hub-wan-fou.pcap');
    const between = `host ${cluster.address('hub')} and host ${cluster.address('hub2')}`;
    const espInUdp = countMatching(wire, `${between} and udp port 4500`);
    const cleartext = countMatching(wire, `${between} and (ip proto 47 or ip proto 4 or ip proto 41 or ip proto 50 or (udp and not port 4500))`);
    console.log(`hub link on fou, on hub's WAN during 60 member<->member pings: hub<->hub2 ${espInUdp} ESP in UDP 4500, ${cleartext} other`);
    expect(espInUdp).toBeGreaterThanOrEqual(110);
    expect(cleartext).toBe(0);
    expect(readFileSync(wire).includes(Buffer.from(PATTERN, 'hex'))).toBe(false);
  });

  it('no key of the hub link\'s epochs is in either hub\'s log or status --json', async () => {
    const registry = await Registry.open(lab!.pg.url('cluster'), { readonly: true });
    let keys: Buffer[];
    try {
      const client = new pg.Client({ connectionString: lab!.pg.url('cluster') });
      await client.connect();
      const rows = await client.query<{ value: string }>("SELECT value FROM cluster_secrets WHERE name = 'esp-master-key'").finally(() => client.end());
      expect(rows.rows).toHaveLength(1);
      const master = Buffer.from(rows.rows[0]!.value, 'base64url');
      const ref = { kind: 'hub' as const, hubLinkId: (await registry.hubLinks.list())[0]!.id };
      const newest = (await registry.saEpochs.history(ref))[0]!.epoch;
      keys = Array.from({ length: newest }, (_, i) => deriveLinkSaPair(master, ref, i + 1, 'aes-gcm')).flatMap((pair) => [pair.firstToSecond.key, pair.secondToFirst.key]);
    } finally {
      await registry.close();
    }
    const places = {
      hubLog: procs.get('hub')!.output(), hub2Log: procs.get('hub2')!.output(),
      hubStatus: (await statusOf('hub')).text, hub2Status: (await statusOf('hub2')).text,
    };
    expect(keys.length).toBeGreaterThanOrEqual(4);
    for (const [place, text] of Object.entries(places)) {
      for (const key of keys) {
        for (const form of [key.toString('hex').slice(0, 16), key.toString('base64url').slice(0, 16), key.toString('base64').slice(0, 16)]) {
          expect(text.includes(form), `${place} holds a key`).toBe(false);
        }
      }
    }
  });
});
