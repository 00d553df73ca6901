import { execFileSync } from 'node:child_process';
import { repoRoot } from './netns.js';

/**
 * `tunnel-hub status --json` of the hub in `stateDir`, its swarm members (m0, m1, …) only, in
 * member order; `Line` names the fields a test reads.
 */
export function swarmPeers<Line extends { name: string }>(stateDir: string): Line[] {
  const out = execFileSync(process.execPath, [`${repoRoot()}/dist/server/cli.js`, '--state', stateDir, 'status', '--json'], { encoding: 'utf8' });
  return (JSON.parse(out) as { peers: Line[] }).peers.filter((peer) => /^m\d+$/.test(peer.name)).sort((a, b) => Number(a.name.slice(1)) - Number(b.name.slice(1)));
}
