// A socket address of either family, and how it maps to a batch slot's peer: an IPv4 address is
// addrs[i] (host byte order), an IPv6 address the 16 bytes at Address6(i); ports[i] either way.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "packet-slots.h"

namespace tunnel_native {

union SocketAddress {
  struct sockaddr any;
  struct sockaddr_in v4;
  struct sockaddr_in6 v6;
};

// Builds the address of `family` (AF_INET: `v4`, host order; AF_INET6: the 16 bytes at `v6`).
inline socklen_t MakeSocketAddress(SocketAddress* out, int family, uint32_t v4, const uint8_t* v6, uint16_t port) {
  memset(out, 0, sizeof(*out));
  if (family == AF_INET6) {
    out->v6.sin6_family = AF_INET6;
    out->v6.sin6_port = htons(port);
    memcpy(&out->v6.sin6_addr, v6, 16);
    return sizeof(out->v6);
  }
  out->v4.sin_family = AF_INET;
  out->v4.sin_port = htons(port);
  out->v4.sin_addr.s_addr = htonl(v4);
  return sizeof(out->v4);
}

// The destination of slot i on a socket of `family`.
inline socklen_t SlotDestination(SocketAddress* out, int family, const PacketSlots& slots, uint32_t i, bool with_port) {
  uint16_t port = with_port ? slots.ports[i] : 0;
  return MakeSocketAddress(out, family, slots.addrs[i], family == AF_INET6 ? slots.Address6(i) : nullptr, port);
}

// Records `from` as slot i's source (an IPv6 source leaves addrs[i] 0; an IPv4 one leaves the 16
// bytes as they were: readers of an IPv4 socket never look there).
inline void SetSlotSource(const PacketSlots& slots, uint32_t i, const SocketAddress& from) {
  if (from.any.sa_family == AF_INET6) {
    memcpy(slots.Address6(i), &from.v6.sin6_addr, 16);
    slots.addrs[i] = 0;
    slots.ports[i] = ntohs(from.v6.sin6_port);
    return;
  }
  slots.addrs[i] = ntohl(from.v4.sin_addr.s_addr);
  slots.ports[i] = ntohs(from.v4.sin_port);
}

}  // namespace tunnel_native
