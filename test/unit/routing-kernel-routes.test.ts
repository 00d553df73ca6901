import { describe, expect, it } from 'vitest';
import { KernelRoutes, type RouteChanges } from '../../shared/routing/kernel-routes.js';
import { TunnelError } from '../../shared/errors.js';
import type { KernelChange, KernelOutcome } from '../../shared/system/kernel-change.js';

/** A route change as the line `ip -batch` would run for it. */
function lineOf(change: KernelChange): string {
  if (change.kind !== 'replace-route' && change.kind !== 'delete-route') throw new Error(`not a route change: ${change.kind}`);
  const { prefix, link, metric, source } = change.route;
  const verb = change.kind === 'delete-route' ? 'del' : 'replace';
  const src = source === undefined ? '' : ` src ${source}`;
  return link === null ? `route ${verb} unreachable ${prefix} metric ${metric}` : `route ${verb} ${prefix} dev ${link} metric ${metric}${src}`;
}

class RecordingCommands implements RouteChanges {
  readonly applied: string[][] = [];
  readonly tolerated: string[][] = [];
  failNext = false;
  /** Refuse every IPv6 line, as a host with IPv6 turned off does. */
  noIpv6 = false;

  async apply(changes: readonly KernelChange[]): Promise<KernelOutcome[]> {
    const lines = changes.map(lineOf);
    if (changes.every((change) => change.kind === 'delete-route')) {
      this.tolerated.push(lines);
      return changes.map(() => ({ ok: false, error: new TunnelError('ERR_SYSTEM', 'ip -batch: No such process') }));
    }
    if (this.failNext || (this.noIpv6 && lines.some((line) => line.includes(':')))) {
      this.failNext = false;
      return changes.map(() => ({ ok: false, error: new TunnelError('ERR_SYSTEM', 'ip -batch: Cannot find device') }));
    }
    this.applied.push(lines);
    return changes.map(() => ({ ok: true }));
  }
}

describe('KernelRoutes: the routes a process installed, changed by differences', () => {
  it('adds, keeps and removes only what changed, per interface', async () => {
    const commands = new RecordingCommands();
    const routes = new KernelRoutes(commands);
    await routes.setDevice('tnl-hub', ['10.1.12.0/24', '10.50.2.0/24'], 1000, true);
    expect(commands.applied).toEqual([['route replace 10.1.12.0/24 dev tnl-hub metric 1000', 'route replace 10.50.2.0/24 dev tnl-hub metric 1000']]);
    await routes.setDevice('tnl-hub', ['10.1.12.0/24', '2001:db8:52::/64'], 1000, false);
    expect(commands.tolerated).toEqual([['route del 10.50.2.0/24 dev tnl-hub metric 1000']]);
    expect(commands.applied[1]).toEqual(['route replace 2001:db8:52::/64 dev tnl-hub metric 1000']);
    expect(routes.routesOf('tnl-hub')).toEqual(['10.1.12.0/24', '2001:db8:52::/64']);
    await routes.setDevice('tnl-hub', ['10.1.12.0/24', '2001:db8:52::/64'], 1000, false);
    expect(commands.applied).toHaveLength(2);
  });

  it('gives the IPv4 routes through a shared interface the tunnel\'s source, and moves them when it changes', async () => {
    const commands = new RecordingCommands();
    const routes = new KernelRoutes(commands);
    await routes.setDevice('tnl-c2', ['10.50.2.0/24', '2001:db8:52::/64'], 0, false, 'tc-members', '10.1.14.5');
    expect(commands.applied).toEqual([['route replace 10.50.2.0/24 dev tc-members metric 0 src 10.1.14.5'], ['route replace 2001:db8:52::/64 dev tc-members metric 0']]);
    await routes.setDevice('tnl-c2', ['10.50.2.0/24', '2001:db8:52::/64'], 0, false, 'tc-members', '10.1.14.5');
    expect(commands.applied).toHaveLength(2);
    await routes.setDevice('tnl-c2', ['10.50.2.0/24', '2001:db8:52::/64'], 0, false, 'tc-members', '10.1.14.9');
    expect(commands.tolerated).toEqual([['route del 10.50.2.0/24 dev tc-members metric 0']]);
    expect(commands.applied[2]).toEqual(['route replace 10.50.2.0/24 dev tc-members metric 0 src 10.1.14.9']);
    expect(routes.routesOf('tnl-c2')).toEqual(['10.50.2.0/24', '2001:db8:52::/64']);
  });

  it('moves every route when the metric changes, and starts over on a re-created interface', async () => {
    const commands = new RecordingCommands();
    const routes = new KernelRoutes(commands);
    await routes.setDevice('tnl-c2', ['10.50.2.0/24'], 1000, true);
    await routes.setDevice('tnl-c2', ['10.50.2.0/24'], 100, false);
    expect(commands.tolerated).toEqual([['route del 10.50.2.0/24 dev tnl-c2 metric 1000']]);
    expect(commands.applied[1]).toEqual(['route replace 10.50.2.0/24 dev tnl-c2 metric 100']);
    await routes.setDevice('tnl-c2', ['10.50.2.0/24'], 100, true);
    expect(commands.applied[2]).toEqual(['route replace 10.50.2.0/24 dev tnl-c2 metric 100']);
    routes.forgetDevice('tnl-c2');
    expect(routes.routesOf('tnl-c2')).toEqual([]);
  });

  it('after a failure keeps only what is known to be installed, and retries the rest next time', async () => {
    const commands = new RecordingCommands();
    const routes = new KernelRoutes(commands);
    await routes.setDevice('tnl-hub', ['10.1.12.0/24'], 1000, true);
    commands.failNext = true;
    await expect(routes.setDevice('tnl-hub', ['10.1.12.0/24', '10.50.2.0/24'], 1000, false)).rejects.toThrow(/Cannot find device/);
    expect(routes.routesOf('tnl-hub')).toEqual(['10.1.12.0/24']);
    await routes.setDevice('tnl-hub', ['10.1.12.0/24', '10.50.2.0/24'], 1000, false);
    expect(commands.applied.at(-1)).toEqual(['route replace 10.50.2.0/24 dev tnl-hub metric 1000']);
  });

  it('keeps a set of unreachable routes and takes them all out at shutdown', async () => {
    const commands = new RecordingCommands();
    const routes = new KernelRoutes(commands);
    await routes.setUnreachable(['10.1.12.0/24', '10.50.2.0/24'], 4294967295);
    await routes.setUnreachable(['10.1.12.0/24'], 4294967295);
    await routes.clearUnreachable();
    expect(commands.applied).toEqual([['route replace unreachable 10.1.12.0/24 metric 4294967295', 'route replace unreachable 10.50.2.0/24 metric 4294967295']]);
    expect(commands.tolerated).toEqual([['route del unreachable 10.50.2.0/24 metric 4294967295'], ['route del unreachable 10.1.12.0/24 metric 4294967295']]);
  });

  it('installs the IPv4 routes even where IPv6 ones fail, and says so', async () => {
    const commands = new RecordingCommands();
    commands.noIpv6 = true;
    const routes = new KernelRoutes(commands);
    await expect(routes.setDevice('tnl-hub', ['10.1.12.0/24', '2001:db8:52::/64'], 1000, true)).rejects.toThrow(/Cannot find device/);
    expect(routes.routesOf('tnl-hub')).toEqual(['10.1.12.0/24']);
    expect(commands.applied).toEqual([['route replace 10.1.12.0/24 dev tnl-hub metric 1000']]);
  });

  it('records each route the kernel took when it refuses only some of a batch', async () => {
    const refused = new TunnelError('ERR_SYSTEM', 'ip -batch (1 commands, first: route replace 10.50.3.0/24 dev tnl-hub metric 1000): Nexthop has invalid gateway');
    const routes = new KernelRoutes({
      apply: async (changes) => changes.map((change) => (change.kind === 'replace-route' && change.route.prefix === '10.50.3.0/24' ? { ok: false, error: refused } : { ok: true })),
    });
    await expect(routes.setDevice('tnl-hub', ['10.50.2.0/24', '10.50.3.0/24'], 1000, true)).rejects.toThrow(refused);
    expect(routes.routesOf('tnl-hub')).toEqual(['10.50.2.0/24']);
  });
});
