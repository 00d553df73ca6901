/**
 * The kernel configuration through the addon's rtnetlink batches (native/rtnetlink.ts): the
 * changes of a call are batches of requests (slices of 256), sent many per sendmsg and run on the
 * libuv pool; no process is spawned. Forwarding is IPv4's per-interface switch through rtnetlink,
 * and IPv6's `force_forwarding`, which netlink cannot set, a /proc/sys write the batch makes in
 * its place.
 */
import { existsSync } from 'node:fs';
import { listRtnetlinkLinks, runRtnetlinkBatch, type RtnetlinkOutcome, type RtnetlinkRequest } from '../../native/index.js';
import type { TunnelError } from '../errors.js';
import { tunnelErrorFromNative } from '../native-boundary.js';
import { checkKernelChanges, checkLinkPrefix, parseKernelCidr } from './check-kernel-changes.js';
import type { Ipv6Forwarding, KernelChange, KernelOutcome, KernelRoute } from './kernel-change.js';
import type { KernelNetworkConfig } from './kernel-network-config.js';
import { enableIpv6ForwardingAsync, PROC_SYS } from './sysctl-forwarding.js';

/** Changes apply hands the addon at a time (a few milliseconds of the event loop's time each). */
const CHANGES_PER_SLICE = 256;

/**
 * How this kernel takes IPv6 forwarding per interface, looked at once: its own switch
 * (`force_forwarding`, Linux 6.17+) goes into the batch; an older kernel gets the switch for all
 * interfaces (sysctl-forwarding.ts); a kernel without IPv6 nothing.
 */
let ipv6Forwarding: Ipv6Forwarding | undefined;

function ipv6ForwardingOfThisKernel(): Ipv6Forwarding {
  ipv6Forwarding ??= !existsSync(`${PROC_SYS}/net/ipv6`) ? 'no-ipv6'
    : existsSync(`${PROC_SYS}/net/ipv6/conf/default/force_forwarding`) ? 'interface' : 'all-interfaces';
  return ipv6Forwarding;
}

/** The kernel configuration through rtnetlink. */
export function createRtnetlinkKernelNetworkConfig(): KernelNetworkConfig {
  return {
    async apply(changes) {
      checkKernelChanges(changes);
      const ipv6 = ipv6ForwardingOfThisKernel();
      const outcomes: KernelOutcome[] = [];
      // Slices, one after the other: the event loop converts one slice's changes and outcomes
      // at a time, so a batch of thousands never holds it for long.
      for (let start = 0; start < changes.length; start += CHANGES_PER_SLICE) {
        const slice = changes.slice(start, start + CHANGES_PER_SLICE);
        const { requests, spans } = toRequests(slice, ipv6);
        let results: RtnetlinkOutcome[];
        try {
          results = await runRtnetlinkBatch(requests);
        } catch (err) {
          throw tunnelErrorFromNative(err);
        }
        for (const [i, change] of slice.entries()) {
          const outcome = outcomeOf(change, results.slice(spans[i]!, spans[i + 1]), ipv6);
          outcomes.push(change.kind === 'enable-forwarding' && ipv6 === 'all-interfaces' && outcome.ok
            ? await allInterfacesOutcome(() => enableIpv6ForwardingAsync(change.link)) : outcome);
        }
      }
      return outcomes;
    },
    async listLinks(prefix) {
      checkLinkPrefix(prefix);
      try {
        return (await listRtnetlinkLinks(prefix)).map(({ name, group, alias }) => ({ name, group, alias }));
      } catch (err) {
        throw tunnelErrorFromNative(err);
      }
    },
  };
}

/** The rtnetlink implementation. */
export const rtnetlinkKernelNetworkConfig: KernelNetworkConfig = createRtnetlinkKernelNetworkConfig();

/** The requests of `changes`, and where each change's requests start (spans[i] to spans[i + 1]). */
function toRequests(changes: readonly KernelChange[], ipv6: Ipv6Forwarding): { requests: RtnetlinkRequest[]; spans: number[] } {
  const requests: RtnetlinkRequest[] = [];
  const spans: number[] = [];
  for (const change of changes) {
    spans.push(requests.length);
    requests.push(toRequest(change));
    if (change.kind === 'enable-forwarding' && ipv6 === 'interface') requests.push({ op: 'set-ipv6-forwarding', link: change.link, on: true });
  }
  spans.push(requests.length);
  return { requests, spans };
}

/** One change's outcome from its requests' outcomes: the first refusal, else done. */
function outcomeOf(change: KernelChange, results: RtnetlinkOutcome[], ipv6: Ipv6Forwarding): KernelOutcome {
  const refused = results.find((result) => !result.ok);
  if (refused !== undefined && !refused.ok) return { ok: false, error: tunnelErrorFromNative(refused.error) as TunnelError };
  return change.kind === 'enable-forwarding' ? { ok: true, ipv6Forwarding: ipv6 } : { ok: true };
}

async function allInterfacesOutcome(enable: () => Promise<Ipv6Forwarding>): Promise<KernelOutcome> {
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
    case 'mark-link':
      return { op: 'mark-link', link: change.link, group: change.group, alias: change.alias };
    case 'delete-link-group':
      return { op: 'delete-link-group', group: change.group };
    case 'enable-forwarding':
      return { op: 'set-ipv4-forwarding', link: change.link, on: true };
    case 'add-address': {
      // As the ip implementation: IPv6 without duplicate detection, IPv4 optionally point-to-point.
      const { address, prefix, family } = parseKernelCidr(change.cidr);
      return { op: 'add-address', link: change.link, address, prefixLength: prefix, nodad: family === 6, ...(change.peer === undefined ? {} : { peer: change.peer }) };
    }
    case 'delete-address': {
      const { address, prefix } = parseKernelCidr(change.cidr);
      return { op: 'delete-address', link: change.link, address, prefixLength: prefix, ...(change.peer === undefined ? {} : { peer: change.peer }) };
    }
    case 'replace-route':
      return { op: 'replace-route', ...routeTarget(change.route) };
    case 'delete-route':
      return { op: 'delete-route', ...routeTarget(change.route) };
  }
}

function routeTarget(route: KernelRoute): { destination: string; prefixLength: number; link: string | null; metric: number; local?: boolean; source?: string } {
  const { address, prefix } = parseKernelCidr(route.prefix);
  return {
    destination: address, prefixLength: prefix, link: route.link, metric: route.metric,
    ...(route.local === true ? { local: true } : {}), ...(route.source === undefined ? {} : { source: route.source }),
  };
}
