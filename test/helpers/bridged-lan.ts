import { execFileSync } from 'node:child_process';

/**
 * Puts the namespace `host` on a bridge `br0` inside the tunnel end `end`: a veth pair, one side
 * (`${names}h0`) in `host` with `address` (a CIDR), the other (`${names}p0`) a port of br0, created
 * here, in `end`. Returns the host's interface name. A tunnel's TAP then joins the LAN with
 * `ip -n END link set TAP master br0`.
 */
export function bridgeHostBehind(end: string, host: string, names: string, address: string): string {
  const hostInterface = `${names}h0`;
  const port = `${names}p0`;
  const ip = (args: string[]): void => {
    execFileSync('ip', args, { stdio: 'pipe' });
  };
  ip(['link', 'add', hostInterface, 'type', 'veth', 'peer', 'name', port]);
  ip(['link', 'set', hostInterface, 'netns', host]);
  ip(['link', 'set', port, 'netns', end]);
  ip(['-n', host, 'addr', 'add', address, 'dev', hostInterface]);
  ip(['-n', host, 'link', 'set', hostInterface, 'up']);
  ip(['-n', end, 'link', 'add', 'br0', 'type', 'bridge']);
  ip(['-n', end, 'link', 'set', port, 'master', 'br0']);
  ip(['-n', end, 'link', 'set', port, 'up']);
  ip(['-n', end, 'link', 'set', 'br0', 'up']);
  return hostInterface;
}
