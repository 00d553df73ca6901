import { execFileSync } from 'node:child_process';
import { addVethLink, createNamespaces, deleteNamespaces, execIn, uniquePrefix } from './netns.js';

/**
 * Two hubs and two members (modelled on the lab's `EXTRA=hub2 topo.sh`): hub 198.51.100.1 and hub2
 * 198.51.100.2 on one bridged segment of the wan router, c1 at 203.0.113.10 and c2 at
 * 192.0.2.20, both public, so every path runs GRE.
 */
export interface ClusterTopology {
  prefix: string;
  hub: string;
  hub2: string;
  wan: string;
  c1: string;
  c2: string;
  addresses: { hub: string; hub2: string; c1: string; c2: string };
  destroy(): void;
}

/** Builds the topology under a fresh unique prefix; everything goes with `destroy()` (or at process exit). */
export function createClusterTopology(): ClusterTopology {
  const prefix = uniquePrefix();
  const ns = (role: string): string => `${prefix}${role}`;
  const all = ['hub', 'hub2', 'wan', 'c1', 'c2'].map(ns);
  const topology: ClusterTopology = {
    prefix, hub: ns('hub'), hub2: ns('hub2'), wan: ns('wan'), c1: ns('c1'), c2: ns('c2'),
    addresses: { hub: '198.51.100.1', hub2: '198.51.100.2', c1: '203.0.113.10', c2: '192.0.2.20' },
    destroy: () => deleteNamespaces(all),
  };
  try {
    createNamespaces(all);
    const link = (nsA: string, ifA: string, cidrA: string, nsB: string, ifB: string, cidrB: string): void =>
      addVethLink({ namespace: nsA, interfaceName: ns(ifA), cidr: cidrA }, { namespace: nsB, interfaceName: ns(ifB), cidr: cidrB });
    // The hubs' veths end unaddressed in wan, on a bridge that holds the segment's router address.
    execFileSync('ip', ['link', 'add', ns('hub0'), 'type', 'veth', 'peer', 'name', ns('wanh')], { stdio: 'pipe' });
    execFileSync('ip', ['link', 'add', ns('hub20'), 'type', 'veth', 'peer', 'name', ns('wanh2')], { stdio: 'pipe' });
    for (const [end, namespace, cidr] of [['hub0', topology.hub, '198.51.100.1/24'], ['hub20', topology.hub2, '198.51.100.2/24']] as const) {
      execFileSync('ip', ['link', 'set', ns(end), 'netns', namespace], { stdio: 'pipe' });
      execFileSync('ip', ['-n', namespace, 'addr', 'add', cidr, 'dev', ns(end)], { stdio: 'pipe' });
      execFileSync('ip', ['-n', namespace, 'link', 'set', ns(end), 'up'], { stdio: 'pipe' });
      execFileSync('ip', ['-n', namespace, 'route', 'add', 'default', 'via', '198.51.100.254'], { stdio: 'pipe' });
    }
    execFileSync('ip', ['link', 'set', ns('wanh'), 'netns', topology.wan], { stdio: 'pipe' });
    execFileSync('ip', ['link', 'set', ns('wanh2'), 'netns', topology.wan], { stdio: 'pipe' });
    execFileSync('ip', ['-n', topology.wan, 'link', 'add', ns('brh'), 'type', 'bridge'], { stdio: 'pipe' });
    for (const port of ['wanh', 'wanh2']) {
      execFileSync('ip', ['-n', topology.wan, 'link', 'set', ns(port), 'master', ns('brh')], { stdio: 'pipe' });
      execFileSync('ip', ['-n', topology.wan, 'link', 'set', ns(port), 'up'], { stdio: 'pipe' });
    }
    execFileSync('ip', ['-n', topology.wan, 'addr', 'add', '198.51.100.254/24', 'dev', ns('brh')], { stdio: 'pipe' });
    execFileSync('ip', ['-n', topology.wan, 'link', 'set', ns('brh'), 'up'], { stdio: 'pipe' });
    link(topology.c1, 'c10', '203.0.113.10/24', topology.wan, 'wanc', '203.0.113.254/24');
    link(topology.c2, 'c20', '192.0.2.20/24', topology.wan, 'wanc2', '192.0.2.254/24');
    execIn(topology.wan, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    execFileSync('ip', ['-n', topology.c1, 'route', 'add', 'default', 'via', '203.0.113.254'], { stdio: 'pipe' });
    execFileSync('ip', ['-n', topology.c2, 'route', 'add', 'default', 'via', '192.0.2.254'], { stdio: 'pipe' });
  } catch (err) {
    topology.destroy();
    throw err;
  }
  return topology;
}
