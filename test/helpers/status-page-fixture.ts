import pino from 'pino';
import { openAdminServer, type AdminServer } from '../../server/admin/admin-server.js';
import { compareViewPeers, type StatusView, type StatusViewPeer } from '../../server/admin/status-view.js';
import { createFrontDoorGates } from '../../server/control/front-door-gates.js';
import { PACKAGE_VERSION } from '../../shared/package-version.js';

/** How a simulated hub's members look and move. */
export interface SimulatedHubOptions {
  members: number;
  /** The fraction of members that are up and carry traffic at a steady rate (their counters move every second). */
  busy: number;
  /** A cluster's hubs, given to members in turn; none: a hub alone. */
  hubs?: readonly string[];
}

/** Addresses from the documentation ranges, as the hub would see members. */
const NETS = ['192.0.2', '198.51.100', '203.0.113'];
const ENCAPS = ['gre', 'gre', 'gre', 'gre', 'gre', 'gre', 'gre', 'gre', 'gre', 'fou', 'fou', 'fou', 'fou', 'fou', 'fou', 'fou', 'gue', 'gue', 'gue', 'ipip'];
const HUB: StatusView['hub'] = { endpoint: '198.51.100.1', hubId: null, wsPort: 8443, sshPort: 2222, version: PACKAGE_VERSION };

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32), so every run sees the same hub. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const address = (base: number): string => [base >>> 24, (base >>> 16) & 255, (base >>> 8) & 255, base & 255].join('.');

/**
 * A hub of thousands of members for the status page, without tunnels or a registry: what
 * `buildStatusView` would give, with busy members' counters growing at fixed, distinct rates (so
 * the page's rates and their order are known) and states that tests and benchmarks flip.
 */
export class SimulatedHub {
  private readonly peers = new Map<string, StatusViewPeer>();
  /** Busy members' rates in bit/s, in and out. */
  readonly rates = new Map<string, { rx: number; tx: number }>();
  private readonly started = Date.now();
  private readonly next = random(19);

  constructor(options: SimulatedHubOptions) {
    const now = Date.now();
    const busyEvery = options.busy > 0 ? Math.max(1, Math.round(1 / options.busy)) : Infinity;
    let busyRank = 0;
    for (let i = 0; i < options.members; i += 1) {
      const name = `member-${i + 1}`;
      const up = i % busyEvery === 0 || this.next() < 0.85;
      const nat = this.next() < 0.2;
      const seen = `${NETS[i % 3]}.${(Math.floor(i / 3) % 254) + 1}`;
      const link = (10 << 24) + (64 << 16) + 4 * i;
      const rxBytes = Math.floor(this.next() * 1e10);
      const txBytes = Math.floor(this.next() * 1e10);
      const lastSeen = new Date(now - Math.floor(this.next() * 864e6)).toISOString();
      const peer: StatusViewPeer = {
        name, state: up ? 'up' : 'down', transport: 'ws', router: false,
        seen, reported: nat ? `192.168.${i % 256}.${(i % 200) + 2}` : seen, nat,
        encap: ENCAPS[i % ENCAPS.length] ?? 'gre', encapReason: nat ? 'nat-detected' : 'public',
        prefix: `${address(link)}/30`, inner: address(link + 2), routes: i % 50 === 0 ? [`10.200.${i % 256}.0/24`] : [],
        lastSeen, since: up ? new Date(now - Math.floor(this.next() * 864e6)).toISOString() : lastSeen,
        hub: options.hubs && options.hubs.length > 0 ? options.hubs[i % options.hubs.length] ?? null : null,
        rxBytes, txBytes, rxPackets: Math.floor(rxBytes / 900), txPackets: Math.floor(txBytes / 900), dropped: 0,
        software: `tunnel-client/${PACKAGE_VERSION}`, encryption: i % 4 === 0 ? 'ESP aes-gcm' : null,
        // member-1 and member-2 talk over a verified shortcut.
        direct: i === 0 ? ['member-2'] : i === 1 ? ['member-1'] : [],
      };
      this.peers.set(name, peer);
      if (i % busyEvery === 0) {
        busyRank += 1;
        // Distinct rates 10 kbit/s apart: in grows with the rank, out falls with it.
        this.rates.set(name, { rx: busyRank * 10_000, tx: (Math.ceil(options.members * options.busy) + 1 - busyRank) * 10_000 });
      }
    }
  }

  /** Every member as the hub's view would give it at `now`. */
  view(now = Date.now()): StatusView {
    const seconds = (now - this.started) / 1000;
    const peers = [...this.peers.values()].map((peer) => {
      const rate = peer.state === 'up' ? this.rates.get(peer.name) : undefined;
      if (!rate || peer.rxBytes === null || peer.txBytes === null) return peer;
      const rx = Math.floor((rate.rx * seconds) / 8);
      const tx = Math.floor((rate.tx * seconds) / 8);
      return { ...peer, rxBytes: peer.rxBytes + rx, txBytes: peer.txBytes + tx, rxPackets: (peer.rxPackets ?? 0) + Math.floor(rx / 1000), txPackets: (peer.txPackets ?? 0) + Math.floor(tx / 1000) };
    });
    return { at: now, hub: HUB, peers: peers.sort(compareViewPeers) };
  }

  /** Every member now, as a list (for tests to compute what the page should show). */
  members(): StatusViewPeer[] {
    return [...this.peers.values()];
  }

  /** Sets a member's state (since: now); a busy member's counters keep their rate. */
  setState(name: string, state: 'up' | 'down'): void {
    const peer = this.peers.get(name);
    if (!peer) throw new Error(`no member ${name}`);
    const now = new Date().toISOString();
    this.peers.set(name, { ...peer, state, since: now, lastSeen: state === 'down' ? now : peer.lastSeen });
  }

  /** Flips the state of `count` members picked at random (churn). */
  churn(count: number): void {
    const names = [...this.peers.keys()];
    for (let i = 0; i < count; i += 1) {
      const name = names[Math.floor(this.next() * names.length)] ?? '';
      this.setState(name, this.peers.get(name)?.state === 'up' ? 'down' : 'up');
    }
  }
}

/**
 * The real admin server (page, stream, `/status.json`) on 127.0.0.1, port 0, fed by `view`
 * instead of a hub's status: the page and stream modules are the ones `serve` runs.
 */
export async function startStatusPageServer(view: () => StatusView): Promise<AdminServer & { url: string }> {
  const log = pino({ level: 'silent' });
  const gates = createFrontDoorGates({ keepaliveMs: 10_000, livenessMs: 30_000 }, {}, log);
  const server = await openAdminServer({
    host: '127.0.0.1', port: 0, gate: gates.admin, log,
    metrics: { metrics: async () => '', contentType: 'text/plain; version=0.0.4' },
    view: async () => view(),
  });
  return Object.assign(server, { url: `http://127.0.0.1:${server.port}` });
}
