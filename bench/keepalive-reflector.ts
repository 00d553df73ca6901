/**
 * The member swarm's keepalive reflector, a role process in the members' namespace: answers the
 * hub's Cisco GRE keepalives for every member address at once, as a kernel GRE peer would. One raw
 * socket for protocol 47 (bound to no address, so it gets the GRE sent to any member address of
 * the namespace's local route) takes each keepalive apart; its inner packet (member -> hub, GRE of
 * protocol type 0) is written into a TUN device of the namespace, whose forwarding sends it back to
 * the hub, exactly as a kernel peer decapsulates and forwards it. A raw socket of the addon cannot
 * send from an address it is not bound to, and the TUN needs no socket per member address.
 *   node keepalive-reflector.js TUN_NAME
 * Commands: `stats` (keepalives reflected, other GRE, member addresses answered in the last 30 s).
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createPacketBatch, openRawSocket, openTun, type PacketBatchMemory, type RawSocket, type TunDevice } from '../native/index.js';
import { decodeGre, GRE_PROTO_IPV4 } from '../shared/wire/gre.js';
import { decodeGreKeepalive } from '../shared/wire/gre-keepalive.js';
import { decodeIpv4 } from '../shared/wire/ipv4.js';
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
}

const BATCH = 64;
const WINDOW_MS = 30_000;

/** Reflects GRE keepalives arriving on `socket` through `tun`, counting per member address. */
class KeepaliveReflector {
  private reflected = 0;
  private other = 0;
  private readonly lastByAddress = new Map<number, number>();
  private readonly input: PacketBatchMemory = createPacketBatch(BATCH);
  private readonly output: PacketBatchMemory = createPacketBatch(BATCH);

  constructor(private readonly socket: RawSocket, private readonly tun: TunDevice) {
    socket.onReadable(() => this.drain());
  }

  stats(): ReflectorStats {
    const since = Date.now() - WINDOW_MS;
    let addresses = 0;
    for (const at of this.lastByAddress.values()) if (at >= since) addresses++;
    return { reflected: this.reflected, other: this.other, addresses, windowMs: WINDOW_MS };
  }

  close(): void {
    this.socket.close();
    this.tun.close();
  }

  private drain(): void {
    for (let read = this.socket.readBatch(this.input); read > 0; read = this.socket.readBatch(this.input)) {
      let out = 0;
      const now = Date.now();
      for (let i = 0; i < read; i++) {
        const length = this.innerKeepalive(i, out);
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
   * Copies input slot i's inner keepalive packet into output slot `slot` and returns its length,
   * or 0 when it is not a keepalive the hub sent for the address it came to.
   */
  private innerKeepalive(i: number, slot: number): number {
    const data = this.input.data;
    const outer = decodeIpv4(data, i * this.input.slotSize + this.input.offsets[i]!, this.input.lengths[i]!);
    if (!outer.ok) return 0;
    const gre = decodeGre(data, outer.payloadOffset, outer.payloadLength);
    if (!gre.ok || gre.protocolType !== GRE_PROTO_IPV4) return 0;
    const keepalive = decodeGreKeepalive(data, gre.payloadOffset, gre.payloadLength);
    // A kernel peer would forward any inner packet; only keepalives from this address back to its sender are expected here.
    if (!keepalive.ok || keepalive.src !== outer.dst || keepalive.dst !== outer.src) return 0;
    data.copy(this.output.data, slot * this.output.slotSize, keepalive.packetOffset, keepalive.packetOffset + keepalive.packetLength);
    return keepalive.packetLength;
  }
}

/** Opens the raw socket and the TUN (up, taking packets from member addresses, which are local). */
function openReflector(tunName: string): KeepaliveReflector {
  const tun = openTun(tunName);
  try {
    // The reflected packets come from addresses of this namespace: accept_local lets them in.
    writeFileSync(`/proc/sys/net/ipv4/conf/${tunName}/accept_local`, '1');
    writeFileSync(`/proc/sys/net/ipv4/conf/${tunName}/rp_filter`, '0');
    writeFileSync('/proc/sys/net/ipv4/conf/all/rp_filter', '0');
    execFileSync('ip', ['link', 'set', tunName, 'up'], { stdio: 'pipe' });
    return new KeepaliveReflector(openRawSocket(47, '0.0.0.0'), tun);
  } catch (err) {
    tun.close();
    throw err;
  }
}

const tunName = process.argv[2];
if (tunName === undefined) throw new Error('usage: keepalive-reflector TUN_NAME');
const reflector = openReflector(tunName);
serveRole({ stats: () => reflector.stats() }, () => reflector.close());
