/**
 * The kernel configuration through the addon's rtnetlink batches (native/rtnetlink.ts): every
 * change of a call is one request of one batch, sent many per sendmsg and run on the libuv pool
 * by apply (on the calling thread by applySync); no process is spawned. Forwarding is IPv4's
 * per-interface switch through rtnetlink, then IPv6's through /proc/sys, which has no netlink
 * setter (see sysctl-forwarding.ts), written after the batch.
 */
import { listRtnetlinkLinks, runRtnetlinkBatch, runRtnetlinkBatchSync, type RtnetlinkOutcome, type RtnetlinkRequest } from '../../native/index.js';
import type { TunnelError } from '../errors.js';
import { fromNative, tunnelErrorFromNative } from '../native-boundary.js';
import { checkKernelChanges, checkLinkPrefix, parseKernelCidr } from './check-kernel-changes.js';
import type { Ipv6Forwarding, KernelChange, KernelOutcome, KernelRoute } from './kernel-change.js';
import type { KernelNetworkConfig } from './kernel-network-config.js';
import { enableIpv6Forwarding, enableIpv6ForwardingAsync, PROC_SYS } from './sysctl-forwarding.js';

/** Options of the rtnetlink implementation. */
export interface RtnetlinkKernelNetworkConfigOptions {
  /** Where the kernel's sysctls are (default /proc/sys), for IPv6 forwarding. */
  sysctlRoot?: string;
}

/** The kernel configuration through rtnetlink. */
export function createRtnetlinkKernelNetworkConfig(options: RtnetlinkKernelNetworkConfigOptions = {}): KernelNetworkConfig {
  const sysctl = options.sysctlRoot ?? PROC_SYS;
  return {
    async apply(changes) {
      checkKernelChanges(changes);
      const requests = changes.map(toRequest);
      let results: RtnetlinkOutcome[];
      try {
        results = await runRtnetlinkBatch(requests);
      } catch (err) {
        throw tunnelErrorFromNative(err);
      }
      const outcomes: KernelOutcome[] = [];
      for (const [i, change] of changes.entries()) {
        const result = results[i]!;
        if (!result.ok || change.kind !== 'enable-forwarding') outcomes.push(outcomeOf(result));
        else outcomes.push(await ipv6Outcome(() => enableIpv6ForwardingAsync(change.link, sysctl)));
      }
      return outcomes;
    },
    applySync(changes) {
      checkKernelChanges(changes);
      const results = fromNative(() => runRtnetlinkBatchSync(changes.map(toRequest)));
      return changes.map((change, i) => {
        const result = results[i]!;
        if (!result.ok || change.kind !== 'enable-forwarding') return outcomeOf(result);
        try {
          return { ok: true, ipv6Forwarding: enableIpv6Forwarding(change.link, sysctl) };
        } catch (err) {
          return { ok: false, error: err as TunnelError };
        }
      });
    },
    async listLinks(prefix) {
      checkLinkPrefix(prefix);
      try {
        return (await listRtnetlinkLinks(prefix)).map((link) => link.name);
      } catch (err) {
        throw tunnelErrorFromNative(err);
      }
    },
  };
}

/** The rtnetlink implementation on the real /proc/sys. */
export const rtnetlinkKernelNetworkConfig: KernelNetworkConfig = createRtnetlinkKernelNetworkConfig();

function outcomeOf(result: RtnetlinkOutcome): KernelOutcome {
  return result.ok ? { ok: true } : { ok: false, error: tunnelErrorFromNative(result.error) as TunnelError };
}

async function ipv6Outcome(enable: () => Promise<Ipv6Forwarding>): Promise<KernelOutcome> {
  try {
    return { ok: true, ipv6Forwarding: await enable() };
  } catch (err) {
    return { ok: false, error: err as TunnelError };
  }
}

function toRequest(change: KernelChange): RtnetlinkRequest {
  switch (change.kind) {
    case 'set-mtu':
      return { op: 'set-mtu', link: change.link, mtu: change.mtu };
    case 'set-mac':
      return { op: 'set-mac', link: change.link, mac: change.mac };
    case 'set-up':
      return { op: 'set-up', link: change.link, up: change.up };
    case 'delete-link':
      return { op: 'delete-link', link: change.link };
    case 'enable-forwarding':
      return { op: 'set-ipv4-forwarding', link: change.link, on: true };
    case 'add-address': {
      // As the ip implementation: IPv6 without duplicate detection, IPv4 optionally point-to-point.
      const { address, prefix, family } = parseKernelCidr(change.cidr);
      return { op: 'add-address', link: change.link, address, prefixLength: prefix, nodad: family === 6, ...(change.peer === undefined ? {} : { peer: change.peer }) };
    }
    case 'replace-route':
      return { op: 'replace-route', ...routeTarget(change.route) };
    case 'delete-route':
      return { op: 'delete-route', ...routeTarget(change.route) };
  }
}

function routeTarget(route: KernelRoute): { destination: string; prefixLength: number; link: string | null; metric: number } {
  const { address, prefix } = parseKernelCidr(route.prefix);
  return { destination: address, prefixLength: prefix, link: route.link, metric: route.metric };
}
