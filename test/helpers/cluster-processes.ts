import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClusterTopology, type ClusterTopology } from './cluster-topology.js';
import { runCliIn, serveRuntime, startCli, type CliProcess } from './control-processes.js';
import { waitUntil } from './wait-until.js';
import { execIn, execInAsync } from './netns.js';
import { startPostgres, type PostgresServer } from './postgres-server.js';

/** The hubs of a cluster topology. */
export type ClusterHubName = 'hub' | 'hub2';
/** The members of a cluster topology. */
export type ClusterMemberName = 'c1' | 'c2';

/** What the cluster tests read of `tunnel-client status --json`. */
export interface ClusterClientStatus {
  hub?: { name: string; url: string };
  tunnels: { name: string; inner: string; peerInner: string; remote: string }[];
}

/** Each hub and member of a cluster topology with its namespace, public address and state folder. */
export class ClusterProcesses {
  constructor(private readonly topo: ClusterTopology, private readonly dir: string) {}

  namespace(name: ClusterHubName | ClusterMemberName): string {
    return this.topo[name];
  }

  address(name: ClusterHubName | ClusterMemberName): string {
    return this.topo.addresses[name];
  }

  state(name: ClusterHubName | ClusterMemberName): string {
    return join(this.dir, name);
  }

  /** Runs a `tunnel-hub` command against one hub's state folder, in its namespace. */
  hubCli(hub: ClusterHubName, args: string[]): Promise<string> {
    return runCliIn(this.namespace(hub), 'server', ['--state', this.state(hub), ...args]);
  }

  /** Joins both hubs to the registry: hub first, with the pool, then hub2. */
  async init(registry: string): Promise<void> {
    await this.hubCli('hub', ['init', '--registry', registry, '--hub-name', 'hub', '--endpoint', this.address('hub'), '--pool', '10.1.12.0/24']);
    await this.hubCli('hub2', ['init', '--registry', registry, '--hub-name', 'hub2', '--endpoint', this.address('hub2')]);
  }

  /** Starts `tunnel-hub serve` on the hub's public address (default timings unless `extra` says otherwise) and waits until it listens. */
  async serve(hub: ClusterHubName, extra: string[] = []): Promise<CliProcess> {
    const proc = startCli(this.namespace(hub), 'server', ['--state', this.state(hub), 'serve', '--listen', this.address(hub), ...extra]);
    await waitUntil(() => serveRuntime(this.state(hub))?.pid === proc.child.pid, 20_000, () => `${hub} listening: ${proc.output()}`);
    return proc;
  }

  /** Joins a member with an invite made on `hub`; resolves once its hub tunnel is up. */
  async join(member: ClusterMemberName, hub: ClusterHubName): Promise<CliProcess> {
    const invite = (await this.hubCli(hub, ['invite', 'create'])).trim();
    const proc = startCli(this.namespace(member), 'client', ['join', `ws://${this.address(hub)}:8443`, '--token', invite, '--name', member, '--state', this.state(member)]);
    await waitUntil(() => /tnl-hub up/.test(proc.output()), 20_000, () => `${member} join: ${proc.output()}`);
    return proc;
  }

  /** `tunnel-client status --json` of a member. */
  clientStatus(member: ClusterMemberName): ClusterClientStatus {
    const cli = join(process.cwd(), 'dist/client/cli.js');
    return JSON.parse(execIn(this.namespace(member), process.execPath, [cli, 'status', '--json', '--state', this.state(member)])) as ClusterClientStatus;
  }

  /** The member's tunnel to whichever hub serves it. */
  hubTunnel(member: ClusterMemberName): ClusterClientStatus['tunnels'][number] | undefined {
    return this.clientStatus(member).tunnels.find((t) => t.name === 'tnl-hub');
  }

  /** The member's own inner address on its hub tunnel. */
  innerOf(member: ClusterMemberName): string {
    return this.hubTunnel(member)?.inner.split('/')[0] as string;
  }

  /** One ping from a namespace, answered within a second. */
  async pingOk(from: ClusterHubName | ClusterMemberName, target: string): Promise<boolean> {
    return (await execInAsync(this.namespace(from), 'ping', ['-c', '1', '-W', '1', target], 5_000)).code === 0;
  }
}

/** A two-hub topology, its private PostgreSQL and the hubs joined to it: what each cluster netns file starts from. */
export interface ClusterLab {
  topo: ClusterTopology;
  pg: PostgresServer;
  cluster: ClusterProcesses;
  /** Removes the namespaces, stops PostgreSQL and deletes the state folders (stop the processes first). */
  close(): void;
}

/**
 * Builds the topology, starts PostgreSQL (its socket folder is a path every namespace sees) and
 * inits both hubs on it; state folders go under a temp folder named `dirPrefix…`. Whatever was
 * made is removed again if a later step fails.
 */
export async function startClusterLab(dirPrefix: string): Promise<ClusterLab> {
  const topo = createClusterTopology();
  let pg: PostgresServer | undefined;
  let dir: string | undefined;
  const close = (): void => {
    topo.destroy();
    pg?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  };
  try {
    pg = await startPostgres();
    dir = mkdtempSync(join(tmpdir(), dirPrefix));
    const cluster = new ClusterProcesses(topo, dir);
    await cluster.init(await pg.createDatabase('cluster'));
    return { topo, pg, cluster, close };
  } catch (err) {
    close();
    throw err;
  }
}
