/**
 * The member swarm's keepalive reflector, a role process in the members' namespace: answers the
 * hub's Cisco GRE keepalives for every member address at once, as a kernel GRE peer would. One raw
 * socket for protocol 47 (bound to no address, so it gets the GRE sent to any member address of
 * the namespace's local route) takes each keepalive apart; its inner packet (member -> hub, GRE of
 * protocol type 0) is written into a TUN device of the namespace, whose forwarding sends it back to
 * the hub, exactly as a kernel peer decapsulates and forwards it. A raw socket of the addon cannot
 * send from an address it is not bound to, and the TUN needs no socket per member address.
 * With `--originate S`, every member address the hub has probed also sends a keepalive of its own
 * every S seconds, as tunnel-client does (spread over the interval, through the same TUN), and the
 * hub's answers are counted.
 *   node keepalive-reflector.js TUN_NAME [--originate S]
 * Commands: `stats` (keepalives reflected, other GRE, member addresses answered in the last 30 s,
 * keepalives originated and answered).
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createPacketBatch, openRawSocket, openTun, type PacketBatchMemory, type RawSocket, type TunDevice } from '../native/index.js';
import { decodeGre, GRE_PROTO_IPV4 } from '../shared/wire/gre.js';
import { buildGreKeepalive, decodeGreKeepalive, GRE_PROTO_KEEPALIVE } from '../shared/wire/gre-keepalive.js';
import { IPPROTO_GRE } from '../shared/wire/ip-protocols.js';
import { decodeIpv4, encodeIpv4Header, IPV4_HEADER_LENGTH } from '../shared/wire/ipv4.js';
import { serveRole } from './role-process.js';

/** What `stats` answers. */
export interface ReflectorStats {
  /** Keepalives whose inner packet went back to the hub. */
  reflected: number;
  /**
   * Other GRE, taken in and dropped: the hub's own packets into a tunnel (IPv6 router
   * solicitations of its TUNs), which a kernel peer would deliver and the swarm has no use for,
   * and keepalives the TUN did not take.
   */
  other: number;
  /** Distinct member addresses whose keepalive was reflected within the last `windowMs`. */
  addresses: number;
  windowMs: number;
  /** Keepalives of the members' own sent to the hub (`--originate`), and the hub's answers to them. */
  originated: number;
  answered: number;
}

/** Where a member address's own keepalives go: the hub that probes it, with the tunnel's key. */
interface MemberPath {
  member: number;
  hub: number;
  key: number | undefined;
}

const BATCH = 64;
/** How often the members' own keepalives leave (each tick a share of the members). */
const ORIGINATE_TICK_MS = 50;
const WINDOW_MS = 30_000;

/** Reflects GRE keepalives arriving on `socket` through `tun`, counting per member address. */
class KeepaliveReflector {
  private reflected = 0;
  private other = 0;
  private originated = 0;
  private answered = 0;
  private readonly lastByAddress = new Map<number, number>();
  /** Member addresses the hub probed (`--originate`), and their paths in the order first seen: the members' own keepalives go round them. */
  private readonly probedMembers = new Set<number>();
  private readonly pathOrder: MemberPath[] = [];
  private originateCursor = 0;
  private readonly originateTimer: NodeJS.Timeout | undefined;
  private readonly input: PacketBatchMemory = createPacketBatch(BATCH);
  private readonly output: PacketBatchMemory = createPacketBatch(BATCH);

  /** `originateSeconds`: each member's own keepalive interval, 0 for none. */
  constructor(private readonly socket: RawSocket, private readonly tun: TunDevice, private readonly originateSeconds: number) {
    socket.onReadable(() => this.drain());
    if (originateSeconds > 0) this.originateTimer = setInterval(() => this.originate(), ORIGINATE_TICK_MS);
  }

  stats(): ReflectorStats {
    const since = Date.now() - WINDOW_MS;
    let addresses = 0;
    for (const at of this.lastByAddress.values()) if (at >= since) addresses++;
    return { reflected: this.reflected, other: this.other, addresses, windowMs: WINDOW_MS, originated: this.originated, answered: this.answered };
  }

  close(): void {
    clearInterval(this.originateTimer);
    this.socket.close();
    this.tun.close();
  }

  /**
   * Every tick the next members in turn send their own keepalive, so each sends one every S seconds,
   * spread over the interval as members on timers of their own would be (a burst of thousands at
   * once would overflow the hub socket's receive buffer, which real members never do).
   */
  private originate(): void {
    const all = this.pathOrder;
    if (all.length === 0) return;
    const due = Math.ceil(all.length / (this.originateSeconds * (1000 / ORIGINATE_TICK_MS)));
    for (let sent = 0; sent < due;) {
      let count = 0;
      for (; count < BATCH && sent < due; count++, sent++) {
        const path = all[this.originateCursor++ % all.length]!;
        this.output.offsets[count] = 0;
        this.output.lengths[count] = writeMemberKeepalive(this.output.data, count * this.output.slotSize, path);
      }
      this.originated += this.tun.writeBatch(this.output, count);
    }
  }

  private drain(): void {
    for (let read = this.socket.readBatch(this.input); read > 0; read = this.socket.readBatch(this.input)) {
      let out = 0;
      const now = Date.now();
      for (let i = 0; i < read; i++) {
        const length = this.innerKeepalive(i, out);
        if (length < 0) {
          this.answered++;
          continue;
        }
        if (length === 0) {
          this.other++;
          continue;
        }
        this.output.offsets[out] = 0;
        this.output.lengths[out] = length;
        out++;
      }
      const written = out === 0 ? 0 : this.tun.writeBatch(this.output, out);
      this.reflected += written;
      this.other += out - written;
      for (let i = 0; i < written; i++) this.lastByAddress.set(this.output.data.readUInt32BE(i * this.output.slotSize + 12), now);
    }
  }

  /**
   * Copies input slot i's inner keepalive packet into output slot `slot` and returns its length;
   * -1 for the hub's answer to a member's own keepalive; 0 when it is neither.
   */
  private innerKeepalive(i: number, slot: number): number {
    const data = this.input.data;
    const outer = decodeIpv4(data, i * this.input.slotSize + this.input.offsets[i]!, this.input.lengths[i]!);
    if (!outer.ok) return 0;
    const gre = decodeGre(data, outer.payloadOffset, outer.payloadLength);
    if (gre.ok && gre.protocolType === GRE_PROTO_KEEPALIVE && gre.payloadLength === 0 && this.probedMembers.has(outer.dst)) return -1;
    if (!gre.ok || gre.protocolType !== GRE_PROTO_IPV4) return 0;
    const keepalive = decodeGreKeepalive(data, gre.payloadOffset, gre.payloadLength);
    // A kernel peer would forward any inner packet; only keepalives from this address back to its sender are expected here.
    if (!keepalive.ok || keepalive.src !== outer.dst || keepalive.dst !== outer.src) return 0;
    if (this.originateSeconds > 0 && !this.probedMembers.has(outer.dst)) {
      this.probedMembers.add(outer.dst);
      this.pathOrder.push({ member: outer.dst, hub: outer.src, key: gre.key });
    }
    data.copy(this.output.data, slot * this.output.slotSize, keepalive.packetOffset, keepalive.packetOffset + keepalive.packetLength);
    return keepalive.packetLength;
  }
}

/** Writes a member's own Cisco keepalive to its hub as a whole IPv4 packet (for the TUN); returns its length. */
function writeMemberKeepalive(target: Buffer, offset: number, path: MemberPath): number {
  const fields = { local: path.member, remote: path.hub, ...(path.key !== undefined ? { key: path.key } : {}) };
  const greLength = buildGreKeepalive(target, offset + IPV4_HEADER_LENGTH, fields);
  encodeIpv4Header(target, offset, { totalLength: IPV4_HEADER_LENGTH + greLength, ttl: 64, protocol: IPPROTO_GRE, src: path.member, dst: path.hub });
  return IPV4_HEADER_LENGTH + greLength;
}

/** Opens the raw socket and the TUN (up, taking packets from member addresses, which are local). */
function openReflector(tunName: string, originateSeconds: number): KeepaliveReflector {
  const tun = openTun(tunName);
  try {
    // The reflected packets come from addresses of this namespace: accept_local lets them in.
    writeFileSync(`/proc/sys/net/ipv4/conf/${tunName}/accept_local`, '1');
    writeFileSync(`/proc/sys/net/ipv4/conf/${tunName}/rp_filter`, '0');
    writeFileSync('/proc/sys/net/ipv4/conf/all/rp_filter', '0');
    execFileSync('ip', ['link', 'set', tunName, 'up'], { stdio: 'pipe' });
    return new KeepaliveReflector(openRawSocket(47, '0.0.0.0'), tun, originateSeconds);
  } catch (err) {
    tun.close();
    throw err;
  }
}

const [tunName, flag, seconds] = process.argv.slice(2);
const originateSeconds = flag === '--originate' ? Number(seconds) : 0;
if (tunName === undefined || !Number.isInteger(originateSeconds) || originateSeconds < 0) {
  throw new Error('usage: keepalive-reflector TUN_NAME [--originate SECONDS]');
}
const reflector = openReflector(tunName, originateSeconds);
serveRole({ stats: () => reflector.stats() }, () => reflector.close());
