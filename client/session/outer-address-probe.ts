import { createSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';

/**
 * The source address the kernel would use to reach `host` right now, found by connecting a UDP
 * socket (which only consults the routing table; no packet is sent) and reading its local
 * address. Null when there is no route (the address was just removed, the link is down).
 */
export async function probeOuterAddress(host: string, port: number): Promise<string | null> {
  const socket = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
  try {
    return await new Promise<string | null>((resolve) => {
      socket.once('error', () => resolve(null));
      socket.connect(port, host, () => {
        try {
          resolve(socket.address().address);
        } catch {
          resolve(null);
        }
      });
    });
  } finally {
    socket.close();
  }
}
