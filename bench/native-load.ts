/**
 * The load generator of bench/native.ts: sends 1400-byte packets as fast as the kernel takes
 * them, for a bounded time.
 *   into-tun SECONDS   (in A) from 10.9.0.1 to 10.9.0.2:9, routed into TUN bt0; 1372-byte
 *                      payloads, 64 datagrams per sendmmsg
 *   udp SECONDS        (in B) from 192.0.2.2 to 192.0.2.1:5555; each payload a 1400-byte IPv4
 *                      packet 10.9.0.2 -> 10.9.0.1 for the forwarder to write into its TUN.
 *                      Sent with UDP segmentation offload: one send carries 46 datagrams down
 *                      B's stack and over the veth, and A's UDP layer splits it back before the
 *                      socket, so the forwarder still receives one 1400-byte datagram per slot.
 *                      Without it one core cannot generate more than ~210k datagrams/s here.
 * Prints one JSON line: how many datagrams the kernel accepted.
 */
import { createPacketBatch, openUdpSocket } from '../native/index.js';
import { parseIpv4Address } from '../shared/net/ipv4-address.js';
import { encodeIpv4Header } from '../shared/wire/ipv4.js';
import { EXPERIMENTAL_PROTOCOL, FORWARDER_UDP_PORT, HOST_A, HOST_B, PACKET_BYTES } from './native-bench-lab.js';

const BATCH = 64;
const UDP_AND_IP_HEADERS = 28;
/** Datagrams per segmented send in udp mode: 46 x 1400 bytes stays under the 64 KiB UDP limit. */
const SEGMENTS_PER_SEND = 46;

function main(): void {
  const [mode, secondsText] = process.argv.slice(2);
  const deadline = Date.now() + Number(secondsText) * 1000;
  if ((mode !== 'into-tun' && mode !== 'udp') || !(Number(secondsText) > 0)) {
    throw new Error('usage: native-load into-tun|udp SECONDS');
  }
  const intoTun = mode === 'into-tun';
  const segments = intoTun ? 1 : SEGMENTS_PER_SEND;
  const payloadBytes = intoTun ? PACKET_BYTES - UDP_AND_IP_HEADERS : PACKET_BYTES;
  const socket = intoTun ? openUdpSocket('10.9.0.1', 0) : openUdpSocket(HOST_B, 0, { segmentBytes: payloadBytes });
  const batch = createPacketBatch(BATCH, intoTun ? 2048 : SEGMENTS_PER_SEND * PACKET_BYTES);
  for (let i = 0; i < BATCH; i++) {
    const slot = i * batch.slotSize;
    batch.data.fill(i, slot, slot + segments * payloadBytes);
    for (let s = 0; s < segments && !intoTun; s++) {
      encodeIpv4Header(batch.data, slot + s * payloadBytes, {
        totalLength: PACKET_BYTES,
        id: i * segments + s,
        ttl: 64,
        protocol: EXPERIMENTAL_PROTOCOL,
        src: parseIpv4Address('10.9.0.2'),
        dst: parseIpv4Address('10.9.0.1'),
      });
    }
    batch.offsets[i] = 0;
    batch.lengths[i] = segments * payloadBytes;
    batch.addrs[i] = parseIpv4Address(intoTun ? '10.9.0.2' : HOST_A);
    batch.ports[i] = intoTun ? 9 : FORWARDER_UDP_PORT;
  }

  let consumed = 0;
  const blast = (): void => {
    // Many batches per turn, then yield so the deadline check stays prompt.
    for (let round = 0; round < 256; round++) consumed += socket.writeBatch(batch, BATCH);
    if (Date.now() < deadline) {
      setImmediate(blast);
      return;
    }
    // Sends the kernel refused are not sent: into-tun meets ENETUNREACH once the forwarder has
    // exited and its TUN (with the route) is gone, while the load runs on a little longer.
    const { writeErrors } = socket.dropCounters();
    socket.close();
    console.log(JSON.stringify({ sent: segments * (consumed - writeErrors) }));
  };
  blast();
}

main();
