/** Point-to-point addressing, IPv6 and routes on TUN tnt1 through the kernel configuration seam, as the kernel reports them; then link down and delete. */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { openTun } from '../../native/index.js';
import { applyKernelChange } from '../../shared/system/apply-kernel-change.js';

interface AddressInfo {
  local: string;
  address?: string;
  prefixlen: number;
}

const name = 'tnt1';
const tun = openTun(name);
await applyKernelChange({ kind: 'add-address', link: name, cidr: '10.201.0.1/30', peer: '10.201.0.2' });
await applyKernelChange({ kind: 'add-address', link: name, cidr: '10.201.0.1/30', peer: '10.201.0.2' }); // already present: not an error
await applyKernelChange({ kind: 'add-address', link: name, cidr: '2001:db8:1::1/64' });
await applyKernelChange({ kind: 'set-up', link: name, up: true });
await applyKernelChange({ kind: 'replace-route', route: { prefix: '10.202.0.0/24', link: name, metric: 0 } });
await applyKernelChange({ kind: 'replace-route', route: { prefix: '2001:db8:2::/48', link: name, metric: 0 } });
const show = <T>(args: string[]): T => JSON.parse(execFileSync('ip', ['-j', ...args], { encoding: 'utf8' })) as T;
const addrs = show<{ addr_info: AddressInfo[] }[]>(['addr', 'show', 'dev', name])[0]!.addr_info
  .map((a) => ({ local: a.local, peer: a.address ?? null, prefixlen: a.prefixlen }));
const routes4 = show<{ dst: string }[]>(['-4', 'route', 'show', 'dev', name]).map((r) => r.dst);
const routes6 = show<{ dst: string }[]>(['-6', 'route', 'show', 'dev', name]).map((r) => r.dst);
await applyKernelChange({ kind: 'set-up', link: name, up: false });
const upAfterDown = show<{ flags: string[] }[]>(['link', 'show', 'dev', name])[0]!.flags.includes('UP');
await applyKernelChange({ kind: 'delete-link', link: name });
const existsAfterDelete = existsSync(`/sys/class/net/${name}`);
tun.close();
console.log(JSON.stringify({ addrs, routes4, routes6, upAfterDown, existsAfterDelete }));
