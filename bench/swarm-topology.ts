/**
 * The member swarm's network: one or two hub namespaces and a members' namespace that routes
 * between them, every member address local to it, plus up to two hosts of their own for real
 * `tunnel-client` members behind the same router:
 *
 *   hub  198.51.100.1/28  ── members (router; 100.64.0.0/10 local, the keepalive reflector)
 *   hub2 198.51.100.17/28 ──┤        ├── c1 203.0.113.10/24
 *                                    └── c2 192.0.2.20/24
 *
 * `ip route add local 100.64.0.0/10 dev lo` makes all four million addresses the namespace's own
 * at once: a socket binds any of them without it being added to an interface (measured against
 * 10,000 `ip addr add` on the veth in bench/README.md).
 */
import {
  addBenchVeth, createBenchNamespaces, deleteBenchNamespaces, ipIn, sysctlIn, uniqueBenchPrefix,
} from './bench-namespaces.js';
import { SWARM_MEMBER_PREFIX } from './swarm-addresses.js';

/** A hub's namespace and outer address. */
export interface SwarmHubHost {
  namespace: string;
  address: string;
}

/** A host for a real member: its namespace and its public address. */
export interface SwarmClientHost {
  name: string;
  namespace: string;
  address: string;
}

/** The namespaces, and how to take them down. */
export interface SwarmTopology {
  prefix: string;
  hubs: SwarmHubHost[];
  /** The members' namespace: the router, every member address, the reflector. */
  members: string;
  clients: SwarmClientHost[];
  /** The name for the reflector's TUN device in the members' namespace. */
  reflectorTun: string;
  /** How long building it took, in ms. */
  setupMs: number;
  destroy(): void;
}

const CLIENT_HOSTS = [
  { name: 'c1', cidr: '203.0.113.10/24', router: '203.0.113.254/24' },
  { name: 'c2', cidr: '192.0.2.20/24', router: '192.0.2.254/24' },
] as const;

/** Builds the namespaces under a fresh unique prefix: `hubs` (1 or 2) hubs, `clients` (0 to 2) client hosts. */
export function createSwarmTopology(options: { hubs?: number; clients?: number } = {}): SwarmTopology {
  const started = performance.now();
  const hubCount = options.hubs ?? 1;
  const clientCount = options.clients ?? 0;
  if (hubCount < 1 || hubCount > 2 || clientCount < 0 || clientCount > CLIENT_HOSTS.length) throw new RangeError('1-2 hubs and 0-2 client hosts');
  const prefix = uniqueBenchPrefix();
  const members = `${prefix}mem`;
  const hubs: SwarmHubHost[] = Array.from({ length: hubCount }, (_, i) => ({ namespace: `${prefix}hub${i === 0 ? '' : i + 1}`, address: `198.51.100.${16 * i + 1}` }));
  const clients: SwarmClientHost[] = CLIENT_HOSTS.slice(0, clientCount).map((host) => ({ name: host.name, namespace: `${prefix}${host.name}`, address: host.cidr.split('/')[0]! }));
  const namespaces = [members, ...hubs.map((hub) => hub.namespace), ...clients.map((client) => client.namespace)];
  const topology: SwarmTopology = {
    prefix, hubs, members, clients, reflectorTun: `${prefix}rfl`, setupMs: 0, destroy: () => deleteBenchNamespaces(namespaces),
  };
  try {
    createBenchNamespaces(namespaces);
    sysctlIn(members, 'net.ipv4.ip_forward=1');
    ipIn(members, ['route', 'add', 'local', SWARM_MEMBER_PREFIX, 'dev', 'lo']);
    hubs.forEach((hub, i) => {
      const router = `198.51.100.${16 * i + 14}`;
      addBenchVeth({ namespace: hub.namespace, interfaceName: `${prefix}h${i}`, cidr: `${hub.address}/28` }, { namespace: members, interfaceName: `${prefix}r${i}`, cidr: `${router}/28` });
      ipIn(hub.namespace, ['route', 'add', 'default', 'via', router]);
    });
    CLIENT_HOSTS.slice(0, clientCount).forEach((host, i) => {
      const client = clients[i]!;
      addBenchVeth({ namespace: client.namespace, interfaceName: `${prefix}${host.name}`, cidr: host.cidr }, { namespace: members, interfaceName: `${prefix}r${host.name}`, cidr: host.router });
      ipIn(client.namespace, ['route', 'add', 'default', 'via', host.router.split('/')[0]!]);
    });
  } catch (err) {
    topology.destroy();
    throw err;
  }
  topology.setupMs = Math.round(performance.now() - started);
  return topology;
}
