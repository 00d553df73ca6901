import { createEspInbound, createEspSa, createPacketBatch } from '../../native/index.js';
import type { EspInbound, EspSaConfig, EspSecurityAssociation } from '../../native/esp.js';
import type { PacketBatchMemory, PacketEndpoint } from '../../native/types.js';
import type { DatapathIo, OuterSocketOptions, TunEndpoint, TunOpenOptions } from '../../shared/datapath/datapath-io.js';
import { TunnelError } from '../../shared/errors.js';
import type { KernelChange, KernelLink, KernelOutcome } from '../../shared/system/kernel-change.js';

/** A packet as a fake endpoint holds it: bytes plus the socket address (source in, destination out). */
export interface FakePacket {
  bytes: Buffer;
  addr: number;
  port: number;
  /** The peer on an IPv6 socket (16 bytes); addr is then 0. */
  addr6?: Buffer;
}

/** Allocates batch memory in plain JS, the layout native/types.ts describes. */
export function allocateBatch(capacity: number, slotSize: number): PacketBatchMemory {
  return {
    capacity,
    slotSize,
    data: Buffer.alloc(capacity * slotSize),
    offsets: new Uint32Array(capacity),
    lengths: new Uint32Array(capacity),
    addrs: new Uint32Array(capacity),
    ports: new Uint16Array(capacity),
    addrs6: new Uint8Array(capacity * 16),
  };
}

/** An in-memory PacketEndpoint: tests push packets in, fire readiness, and read what was written. */
export class FakeEndpoint implements PacketEndpoint {
  readonly inbox: FakePacket[] = [];
  readonly written: FakePacket[] = [];
  /** How many packets the next writeBatch calls accept in total (Infinity = all). */
  acceptLimit = Infinity;
  /** When set, readBatch/writeBatch throw this. */
  failWith: Error | null = null;
  closed = false;
  /** What takePathMtuReports hands out next (as an IPv6 socket's error queue would). */
  pathMtuReports: { address: string; mtu: number }[] = [];
  private readable: (() => void) | null = null;

  constructor(readonly label: string) {}

  readBatch(batch: PacketBatchMemory, headroom = 0): number {
    if (this.failWith) throw this.failWith;
    let n = 0;
    while (n < batch.capacity && this.inbox.length > 0) {
      const packet = this.inbox.shift()!;
      packet.bytes.copy(batch.data, n * batch.slotSize + headroom);
      batch.offsets[n] = headroom;
      batch.lengths[n] = packet.bytes.length;
      batch.addrs[n] = packet.addr;
      batch.ports[n] = packet.port;
      if (packet.addr6 !== undefined) batch.addrs6.set(packet.addr6, n * 16);
      n++;
    }
    return n;
  }

  writeBatch(batch: PacketBatchMemory, count: number): number {
    if (this.failWith) throw this.failWith;
    const accepted = Math.min(count, this.acceptLimit);
    if (this.acceptLimit !== Infinity) this.acceptLimit -= accepted;
    for (let i = 0; i < accepted; i++) {
      const start = i * batch.slotSize + batch.offsets[i]!;
      if (batch.offsets[i]! + batch.lengths[i]! > batch.slotSize) throw new RangeError('slot overflow');
      this.written.push({
        bytes: Buffer.from(batch.data.subarray(start, start + batch.lengths[i]!)),
        addr: batch.addrs[i]!,
        port: batch.ports[i]!,
        addr6: Buffer.from(batch.addrs6.subarray(i * 16, i * 16 + 16)),
      });
    }
    return accepted;
  }

  onReadable(callback: (() => void) | null): void {
    this.readable = callback;
  }

  takePathMtuReports(): { address: string; mtu: number }[] {
    return this.pathMtuReports.splice(0, this.pathMtuReports.length);
  }

  /** Fires the readiness callback with nothing to read (an error-queue wake-up). */
  wake(): void {
    this.readable?.();
  }

  close(): void {
    this.closed = true;
    this.readable = null;
  }

  /** Queues packets and fires the readiness callback, as uv_poll would. */
  deliver(...packets: FakePacket[]): void {
    this.inbox.push(...packets);
    this.readable?.();
  }

  /** Takes and clears everything written so far. */
  take(): FakePacket[] {
    return this.written.splice(0, this.written.length);
  }
}

/** A fake TUN device. */
export class FakeTun extends FakeEndpoint implements TunEndpoint {
  constructor(readonly name: string) {
    super(`tun ${name}`);
  }
}

/** A DatapathIo over fakes that records every system call the engine makes. */
export class FakeDatapathIo implements DatapathIo {
  readonly tuns = new Map<string, FakeTun>();
  readonly sockets = new Map<string, FakeEndpoint>();
  readonly calls: string[] = [];
  /** Names for which openTun fails (e.g. to check the engine rolls back). */
  readonly failTun = new Set<string>();
  /** Kernel changes refused, by their call text (e.g. `mtu tnl0 1400`), with this error. */
  readonly refuse = new Map<string, TunnelError>();
  /** The kernel's path MTU per `local remote` (default 1500), for pathMtus(). */
  readonly kernelPathMtu = new Map<string, number>();
  /** Interfaces the kernel has that the engine did not open (a stale device, someone else's), by name. */
  readonly otherLinks = new Map<string, { group: number; alias: string | null }>();
  /** Group and alias the engine gave each device it marked. */
  readonly marks = new Map<string, { group: number; alias: string }>();
  /** How many configure() calls and how many TUN close batches there were. */
  configureCalls = 0;
  closeBatches = 0;

  // Batches laid out as the addon's, so ESP (the addon's own transform, as in production) can seal and open them.
  createPacketBatch(capacity: number, slotSize: number): PacketBatchMemory {
    return createPacketBatch(capacity, slotSize);
  }

  createEspSa(config: EspSaConfig): EspSecurityAssociation {
    return createEspSa(config);
  }

  createEspInbound(): EspInbound {
    return createEspInbound();
  }

  async openTun(name: string, options: TunOpenOptions = {}): Promise<TunEndpoint> {
    this.calls.push(`open${options.tap === true ? 'Tap' : 'Tun'} ${name}${options.exclusive === true ? ' exclusive' : ''}`);
    if (this.failTun.has(name)) throw new TunnelError('ERR_SYSTEM', `cannot open ${name}`);
    if (options.exclusive === true && (this.otherLinks.has(name) || this.tuns.has(name))) {
      throw new TunnelError('ERR_ALREADY_EXISTS', `opening TUN device ${name}: an interface named ${name} exists already`);
    }
    const tun = new FakeTun(name);
    this.tuns.set(name, tun);
    return tun;
  }

  openRawSocket(protocol: 47 | 4 | 41 | 50, localAddress: string, options: OuterSocketOptions): PacketEndpoint {
    return this.open(`raw ${protocol} ${localAddress} ttl ${options.ttl}`, `raw ${protocol} ${localAddress}`);
  }

  openUdpSocket(localAddress: string, port: number, options: OuterSocketOptions): PacketEndpoint {
    return this.open(`udp ${localAddress}:${port} ttl ${options.ttl}`, `udp ${localAddress}:${port}`);
  }

  async configure(changes: readonly KernelChange[]): Promise<KernelOutcome[]> {
    this.configureCalls++;
    return changes.map((change) => {
      const call = callOf(change);
      this.calls.push(call);
      const refused = this.refuse.get(call);
      if (refused !== undefined) return { ok: false, error: refused };
      if (change.kind === 'mark-link') this.marks.set(change.link, { group: change.group, alias: change.alias });
      if (change.kind === 'delete-link') {
        if (!this.otherLinks.delete(change.link) && !this.tuns.has(change.link)) return { ok: false, error: new TunnelError('ERR_DEVICE_NOT_FOUND', `no ${change.link}`) };
      }
      if (change.kind === 'delete-link-group') {
        for (const [name, link] of this.otherLinks) if (link.group === change.group) this.otherLinks.delete(name);
        for (const [name, mark] of this.marks) if (mark.group === change.group) this.marks.delete(name);
      }
      return change.kind === 'enable-forwarding' ? { ok: true, ipv6Forwarding: 'interface' } : { ok: true };
    });
  }

  async closeTuns(tuns: readonly TunEndpoint[]): Promise<void> {
    this.closeBatches++;
    for (const tun of tuns) {
      this.calls.push(`close ${tun.name}`);
      tun.close();
      if (this.tuns.get(tun.name) === tun) this.tuns.delete(tun.name);
      this.marks.delete(tun.name);
    }
  }

  async listLinks(prefix: string): Promise<KernelLink[]> {
    const links: KernelLink[] = [];
    for (const [name, link] of this.otherLinks) links.push({ name, ...link });
    for (const name of this.tuns.keys()) links.push({ name, group: this.marks.get(name)?.group ?? 0, alias: this.marks.get(name)?.alias ?? null });
    return links.filter((link) => link.name.startsWith(prefix));
  }

  /** How many pathMtus calls were made, and how many remotes they asked for. */
  readonly pathMtuCalls = { calls: 0, remotes: 0 };

  pathMtus(localAddress: string, remoteAddresses: readonly string[]): (number | null)[] {
    this.pathMtuCalls.calls++;
    this.pathMtuCalls.remotes += remoteAddresses.length;
    return remoteAddresses.map((remote) => this.kernelPathMtu.get(`${localAddress} ${remote}`) ?? 1500);
  }

  /** The fake TUN of a tunnel; throws if there is none. */
  tun(name: string): FakeTun {
    const tun = this.tuns.get(name);
    if (!tun) throw new Error(`no fake tun ${name}`);
    return tun;
  }

  /** The fake outer socket by key, e.g. `raw 47 192.0.2.1` or `udp 192.0.2.1:4754`. */
  socket(key: string): FakeEndpoint {
    const socket = this.sockets.get(key);
    if (!socket) throw new Error(`no fake socket ${key}; have ${[...this.sockets.keys()].join(', ')}`);
    return socket;
  }

  private open(call: string, key: string): FakeEndpoint {
    this.calls.push(`open ${call}`);
    const socket = new FakeEndpoint(key);
    this.sockets.set(key, socket);
    return socket;
  }
}

/** A kernel change as the fake records it, in the words the tests used before changes were batched. */
function callOf(change: KernelChange): string {
  switch (change.kind) {
    case 'set-mtu':
      return `mtu ${change.link} ${change.mtu}`;
    case 'set-mac':
      return `mac ${change.link} ${change.mac}`;
    case 'set-up':
      return `up ${change.link} ${change.up}`;
    case 'add-address':
      return `addr ${change.link} ${change.cidr} peer ${change.peer}`;
    case 'delete-address':
      return `del-addr ${change.link} ${change.cidr} peer ${change.peer}`;
    case 'mark-link':
      return `mark ${change.link} ${change.group} ${change.alias}`;
    case 'delete-link':
      return `delete ${change.link}`;
    case 'delete-link-group':
      return `delete group ${change.group}`;
    case 'enable-forwarding':
      return `forward ${change.link}`;
    case 'replace-route':
    case 'delete-route':
      return `${change.kind} ${change.route.local === true ? 'local ' : ''}${change.route.prefix} ${change.route.link} ${change.route.metric}${change.route.source === undefined ? '' : ` src ${change.route.source}`}`;
  }
}
