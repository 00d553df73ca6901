/** Names and addresses shared by the roles of bench/native.ts (pair topology A 192.0.2.1, B 192.0.2.2). */

/** The forwarder's TUN device in namespace A, with 10.9.0.1/24 (inner addresses of the bench). */
export const BENCH_TUN = 'bt0';
export const BENCH_TUN_CIDR = '10.9.0.1/24';
/** Host A and host B on the veth wire. */
export const HOST_A = '192.0.2.1';
export const HOST_B = '192.0.2.2';
/** UDP port the udp-to-tun forwarder listens on in A. */
export const FORWARDER_UDP_PORT = 5555;
/** Every packet in the bench is this long at the IP layer. */
export const PACKET_BYTES = 1400;
/** IP protocol of the inner packets written into the TUN (RFC 3692 experimentation). */
export const EXPERIMENTAL_PROTOCOL = 253;

