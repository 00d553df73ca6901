import { createEspInbound, createEspSa, createPacketBatch } from '../../native/index.js';
import type { EspInbound, EspSaConfig, EspSecurityAssociation } from '../../native/esp.js';
import type { PacketBatchMemory, PacketEndpoint } from '../../native/types.js';
import type { DatapathIo, OuterSocketOptions, TunEndpoint } from '../../shared/datapath/datapath-io.js';

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

  onReadable(callback: () => void): void {
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
  /** The kernel's path MTU per `local remote` (default 1500), for pathMtu(). */
  readonly kernelPathMtu = new Map<string, number>();

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

  openTun(name: string, options: { tap?: boolean; forwarded?: boolean } = {}): TunEndpoint {
    this.calls.push(`open${options.tap === true ? 'Tap' : 'Tun'} ${name}`);
    if (this.failTun.has(name)) throw new Error(`cannot open ${name}`);
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

  setLinkMtu(name: string, mtu: number): void {
    this.calls.push(`mtu ${name} ${mtu}`);
  }

  setLinkAddress(name: string, mac: string): void {
    this.calls.push(`mac ${name} ${mac}`);
  }

  pathMtu(localAddress: string, remoteAddress: string): number {
    return this.kernelPathMtu.get(`${localAddress} ${remoteAddress}`) ?? 1500;
  }

  setLinkUp(name: string, up: boolean): void {
    this.calls.push(`up ${name} ${up}`);
  }

  addAddress(name: string, cidr: string, peer?: string): void {
    this.calls.push(`addr ${name} ${cidr} peer ${peer}`);
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
