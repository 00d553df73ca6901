// The one entry point of the packet codecs; the datapath imports from here.
export * from './big-endian.js';
export * from './checksum.js';
export * from './decode-error.js';
export * from './fou.js';
export * from './gre-keepalive.js';
export * from './gre.js';
export * from './gue.js';
export * from './icmp-frag-needed.js';
export * from './icmpv6-packet-too-big.js';
export * from './ip-protocols.js';
export * from './ipip.js';
export * from './ipv4-address.js';
export * from './ipv4.js';
export * from './ipv6.js';
export * from './tcp-mss.js';
export * from './tunnel-overhead.js';
export * from './udp-keepalive.js';
