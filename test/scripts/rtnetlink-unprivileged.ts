/**
 * Run without CAP_NET_ADMIN: asks for changes to lo (MTU, IPv4 and IPv6 forwarding, then a
 * route), and lists links. Prints { async, route, links }.
 */
import { listRtnetlinkLinks } from '../../native/index.js';
import { batch } from './rtnetlink-outcomes.js';

const result = {
  async: await batch([
    { op: 'set-mtu', link: 'lo', mtu: 1400 }, { op: 'set-ipv4-forwarding', link: 'lo', on: true }, { op: 'set-ipv6-forwarding', link: 'lo', on: true },
  ]),
  route: await batch([{ op: 'replace-route', link: 'lo', destination: '10.9.0.0', prefixLength: 24, metric: 0 }]),
  links: (await listRtnetlinkLinks('lo')).map((l) => l.name),
};
console.log(JSON.stringify(result));
