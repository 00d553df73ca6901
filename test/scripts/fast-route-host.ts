/**
 * Host A of the fast-route test: TUN fr0 (10.82.0.1, peer .2) and a raw GRE socket on 192.0.2.1
 * joined by a fast route with GRE templates carrying KEY and MTU 1400, sources limited to SOURCES
 * (JSON {v4: number[], v6: hex} or null). JS readers on both record what the route left to them.
 * Prints `ready`, runs MS milliseconds (the test's traffic happens meanwhile), then reports the
 * route's counters, what JS saw, and how a bad header and a closed TUN are refused.
 */
import { createFastRoute, createPacketBatch, isNativeError, openRawSocket, openTun, type FastRouteConfig, type FastRouteCounters } from '../../native/index.js';
import { applyKernelChange } from '../../shared/system/apply-kernel-change.js';
import { isTunnelError } from '../../shared/errors.js';
import { ipv4ToNumber } from '../../shared/wire/ipv4-address.js';
import { slotBytes } from './batch-slots.js';
import { scriptArgs } from './script-args.js';

/** What the host reports when its time is up. */
export interface FastRouteHostReport {
  counters: FastRouteCounters;
  seen: { tun: { length: number; df: boolean; protocol: number }[]; raw: { key: number; innerProtocol: number; source: string }[] };
  badHeader: string | null;
  closedTun: string | null;
  dropped: { unreadForwarded: number };
}

const args = scriptArgs('key', 'ms', 'sources');
const key = Number(args.key);
const sources = JSON.parse(args.sources) as { v4: number[]; v6: string } | null;
const gre = (type: number): Uint8Array => Uint8Array.from([0x20, 0, type >> 8, type & 255, 0, 0, 0, key]);
const tun = openTun('fr0');
await applyKernelChange({ kind: 'add-address', link: 'fr0', cidr: '10.82.0.1/30', peer: '10.82.0.2' });
await applyKernelChange({ kind: 'set-up', link: 'fr0', up: true });
const raw = openRawSocket(47, '192.0.2.1');
const route = createFastRoute();
const config: FastRouteConfig = {
  tun, outer: raw, transmit: true, receive: true, remoteAddress: ipv4ToNumber('192.0.2.2'), remotePort: 0,
  header4: gre(0x0800), header6: gre(0x86dd), mtu: 1400, clampMss: false, quietLimitMs: 0,
  sources: sources && { v4: Uint32Array.from(sources.v4), v6: Uint8Array.from(Buffer.from(sources.v6, 'hex')) },
};
route.configure(config);
const seen: FastRouteHostReport['seen'] = { tun: [], raw: [] };
const batch = createPacketBatch(64, 2048);
tun.onReadable(() => {
  for (let n; (n = tun.readBatch(batch, 64)) > 0;) {
    for (let i = 0; i < n; i++) {
      const p = slotBytes(batch, i);
      seen.tun.push({ length: p.length, df: (p[6]! & 0x40) !== 0, protocol: p[9]! });
    }
  }
});
raw.onReadable(() => {
  for (let n; (n = raw.readBatch(batch, 0)) > 0;) {
    for (let i = 0; i < n; i++) {
      const p = slotBytes(batch, i);
      const ihl = (p[0]! & 15) * 4;
      const inner = p.subarray(ihl + 8);
      const source = p.readUInt16BE(ihl + 2) === 0x86dd ? inner.subarray(8, 24).toString('hex') : inner.subarray(12, 16).join('.');
      seen.raw.push({ key: p.readUInt32BE(ihl + 4), innerProtocol: p[ihl + 8 + 9]!, source });
    }
  }
});
console.log('ready');

/** The code configure throws with `changed` (native/ throws NativeErrors), or null when it accepts it. */
function configureRefusal(changed: FastRouteConfig): string | null {
  try {
    route.configure(changed);
    return null;
  } catch (err) {
    return isTunnelError(err) || isNativeError(err) ? err.code : String(err);
  }
}

setTimeout(() => {
  const counters = route.counters();
  const badHeader = configureRefusal({ ...config, header4: new Uint8Array(33) });
  tun.close();
  const closedTun = configureRefusal(config);
  route.close();
  const dropped = raw.dropCounters();
  raw.close();
  const report: FastRouteHostReport = { counters, seen, badHeader, closedTun, dropped };
  console.log(JSON.stringify(report));
}, Number(args.ms));
