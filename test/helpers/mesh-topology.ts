import { execFileSync } from 'node:child_process';
import { addVethLink, createNamespaces, createNatTopology, deleteNamespaces, execIn, type NatTopology } from './netns.js';

/** The NAT topology with a LAN behind c2. */
export interface MeshTopology extends NatTopology {
  /** lan2 10.50.2.10 (2001:db8:52::10) behind c2 10.50.2.1 (2001:db8:52::1), c2 routing for it. */
  lan2: string;
  /** With `lan1`: lan1 10.50.1.10 behind c1 10.50.1.1, c1 routing for it. */
  lan1: string | null;
}

/**
 *   hub 198.51.100.1 ── wan ── c1 203.0.113.10
 *                         └── nat 192.0.2.20 ── c2 192.168.77.2 ── lan2 10.50.2.10, 2001:db8:52::10
 * c2 forwards IPv4 and IPv6 for its LAN; lan2's default route is c2. With `lan1`, c1 gets a LAN
 * of its own the same way (lan1 10.50.1.10 behind c1 10.50.1.1).
 */
export function createMeshTopology(options: { lan1?: boolean } = {}): MeshTopology {
  const nat = createNatTopology();
  const topology: MeshTopology = {
    ...nat,
    lan2: `${nat.prefix}lan2`,
    lan1: options.lan1 ? `${nat.prefix}lan1` : null,
    destroy: () => {
      nat.destroy();
      deleteNamespaces([topology.lan2, ...(topology.lan1 ? [topology.lan1] : [])]);
    },
  };
  try {
    createNamespaces([topology.lan2]);
    addVethLink({ namespace: nat.c2, interfaceName: `${nat.prefix}c2l`, cidr: '10.50.2.1/24' },
      { namespace: topology.lan2, interfaceName: `${nat.prefix}lan20`, cidr: '10.50.2.10/24' });
    const ip = (...args: string[]): void => {
      execFileSync('ip', args, { stdio: 'pipe' });
    };
    ip('-n', nat.c2, '-6', 'addr', 'add', '2001:db8:52::1/64', 'dev', `${nat.prefix}c2l`, 'nodad');
    ip('-n', topology.lan2, '-6', 'addr', 'add', '2001:db8:52::10/64', 'dev', `${nat.prefix}lan20`, 'nodad');
    ip('-n', topology.lan2, 'route', 'add', 'default', 'via', '10.50.2.1');
    ip('-n', topology.lan2, '-6', 'route', 'add', 'default', 'via', '2001:db8:52::1');
    execIn(nat.c2, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);
    if (topology.lan1) {
      createNamespaces([topology.lan1]);
      addVethLink({ namespace: nat.c1, interfaceName: `${nat.prefix}c1l`, cidr: '10.50.1.1/24' },
        { namespace: topology.lan1, interfaceName: `${nat.prefix}lan10`, cidr: '10.50.1.10/24' });
      ip('-n', topology.lan1, 'route', 'add', 'default', 'via', '10.50.1.1');
      execIn(nat.c1, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    }
  } catch (err) {
    topology.destroy();
    throw err;
  }
  return topology;
}
