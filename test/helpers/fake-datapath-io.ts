import type { PacketBatchMemory, PacketEndpoint } from '../../native/types.js';
import type { DatapathIo, OuterSocketOptions, TunEndpoint } from '../../shared/datapath/datapath-io.js';

/** A packet as a fake endpoint holds it: bytes plus the socket address (source in, destination out). */
export interface FakePacket {
  bytes: Buffer;
  addr: number;
  port: number;
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
      });
    }
    return accepted;
  }

  onReadable(callback: () => void): void {
    this.readable = callback;
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

  createPacketBatch(capacity: number, slotSize: number): PacketBatchMemory {
    return allocateBatch(capacity, slotSize);
  }

  openTun(name: string): TunEndpoint {
    this.calls.push(`openTun ${name}`);
    if (this.failTun.has(name)) throw new Error(`cannot open ${name}`);
    const tun = new FakeTun(name);
    this.tuns.set(name, tun);
    return tun;
  }

  openRawSocket(protocol: 47 | 4, localAddress: string, options: OuterSocketOptions): PacketEndpoint {
    return this.open(`raw ${protocol} ${localAddress} ttl ${options.ttl}`, `raw ${protocol} ${localAddress}`);
  }

  openUdpSocket(localAddress: string, port: number, options: OuterSocketOptions): PacketEndpoint {
    return this.open(`udp ${localAddress}:${port} ttl ${options.ttl}`, `udp ${localAddress}:${port}`);
  }

  setLinkMtu(name: string, mtu: number): void {
    this.calls.push(`mtu ${name} ${mtu}`);
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
