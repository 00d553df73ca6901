#include "open-descriptors.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "packet-endpoint.h"
#include "socket-address.h"
#include "system-error.h"
#include "tun-open-batch.h"

namespace tunnel_native {

namespace {

// Closes `fd`, throws the error for `syscall` and returns undefined.
Napi::Value FailAndClose(Napi::Env env, int fd, const char* syscall, int err) {
  if (fd >= 0) close(fd);
  ThrowSystemError(env, syscall, err);
  return env.Undefined();
}

// Bigger kernel queues absorb bursts between two event-loop turns. SO_*BUFFORCE (CAP_NET_ADMIN)
// may exceed net.core.*mem_max; without the capability the capped plain option is the fallback.
void SetBufferSizes(int fd, int bytes) {
  if (bytes <= 0) return;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) != 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
  }
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof(bytes)) != 0) {
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes));
  }
}

// Outer packets leave without DF (IP_PMTUDISC_DONT): the datapath enforces the inner MTU itself
// and answers oversized DF inner packets with ICMP, so the outer path never needs its own PMTU
// discovery. Without DF, a hop with a smaller MTU fragments instead of dropping, which keeps the
// tunnel working where ICMP "fragmentation needed" is filtered (a PMTU black hole), and an outer
// packet larger than the egress MTU is fragmented locally instead of failing with EMSGSIZE.
// The TTL is fixed by the caller and never derived from the inner packet.
//
// IPv6 has no in-flight fragmentation: a router with a smaller MTU drops the packet and sends
// ICMPv6 Packet Too Big. The kernel learns that path MTU either way (and, without DF semantics,
// fragments later outer packets at the source to fit); IPV6_RECVERR also queues the report on the
// socket, where the endpoint reads it so the datapath can lower the tunnel's MTU and inner packets
// fit again without fragments (see PacketEndpoint::DrainErrorQueue).
int ConfigureOuterSocket(int fd, int family, int ttl, int buffer_bytes) {
  if (family == AF_INET6) {
    int pmtu = IPV6_PMTUDISC_DONT;
    int one = 1;
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &pmtu, sizeof(pmtu)) != 0) return errno;
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof(ttl)) != 0) return errno;
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof(one)) != 0) return errno;
  } else {
    int pmtu = IP_PMTUDISC_DONT;
    if (setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof(pmtu)) != 0) return errno;
    if (setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl)) != 0) return errno;
  }
  SetBufferSizes(fd, buffer_bytes);
  return 0;
}

// The local address argument: a number is an IPv4 address (host order), a 16-byte Uint8Array an
// IPv6 address. Returns the family, or 0 when it is neither.
int ParseLocalAddress(const Napi::Value& value, uint32_t* v4, uint8_t* v6) {
  if (value.IsNumber()) {
    *v4 = value.As<Napi::Number>().Uint32Value();
    return AF_INET;
  }
  if (value.IsTypedArray() && value.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array &&
      value.As<Napi::Uint8Array>().ElementLength() == 16) {
    memcpy(v6, value.As<Napi::Uint8Array>().Data(), 16);
    return AF_INET6;
  }
  return 0;
}

}  // namespace

Napi::Value OpenTun(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TunOpenRequest request;
  if (!ParseTunOpenRequest(info, info[0], info[1], info[2], info[3], info[4], info[5], &request)) return env.Undefined();
  TunOpenResult opened;
  OpenTunDevice(request, &opened);
  if (opened.error != 0) {
    ThrowSystemError(env, opened.syscall, opened.error);
    return env.Undefined();
  }
  return WrapOpenedTun(env, opened);
}

Napi::Value OpenRawSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t address = 0;
  uint8_t address6[16] = {};
  int family = info.Length() >= 2 ? ParseLocalAddress(info[1], &address, address6) : 0;
  if (info.Length() < 4 || !info[0].IsNumber() || family == 0 || !info[2].IsNumber() || !info[3].IsNumber()) {
    ThrowArgumentError(env, "openRawSocket: expected protocol, address, ttl, bufferBytes");
    return env.Undefined();
  }
  int protocol = info[0].As<Napi::Number>().Int32Value();
  int ttl = info[2].As<Napi::Number>().Int32Value();
  int buffer_bytes = info[3].As<Napi::Number>().Int32Value();

  // An IPv4 raw socket reads the outer IPv4 header too; an IPv6 one starts at the payload.
  int fd = socket(family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
  if (fd < 0) return FailAndClose(env, -1, "socket", errno);
  int err = ConfigureOuterSocket(fd, family, ttl, buffer_bytes);
  if (err != 0) return FailAndClose(env, fd, "setsockopt", err);
  // Binding a raw socket sets the outer source address and limits delivery to packets sent to it.
  SocketAddress local;
  socklen_t length = MakeSocketAddress(&local, family, address, address6, 0);
  if (bind(fd, &local.any, length) != 0) return FailAndClose(env, fd, "bind", errno);
  return PacketEndpoint::Wrap(env, fd, EndpointKind::kRaw, false, false, family);
}

Napi::Value OpenUdpSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t address = 0;
  uint8_t address6[16] = {};
  int family = info.Length() >= 1 ? ParseLocalAddress(info[0], &address, address6) : 0;
  if (info.Length() < 5 || family == 0 || !info[1].IsNumber() || !info[2].IsNumber() || !info[3].IsNumber()) {
    ThrowArgumentError(env, "openUdpSocket: expected address, port, ttl, bufferBytes, reuseAddress");
    return env.Undefined();
  }
  uint32_t port = info[1].As<Napi::Number>().Uint32Value();
  int ttl = info[2].As<Napi::Number>().Int32Value();
  int buffer_bytes = info[3].As<Napi::Number>().Int32Value();
  bool reuse_address = info[4].ToBoolean().Value();
  uint32_t segment_bytes = info[5].IsNumber() ? info[5].As<Napi::Number>().Uint32Value() : 0;
  bool receive_offload = info[6].ToBoolean().Value();
  if (port > 65535 || segment_bytes > 65535) {
    ThrowArgumentError(env, "openUdpSocket: port or segment size out of range");
    return env.Undefined();
  }

  int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return FailAndClose(env, -1, "socket", errno);
  int err = ConfigureOuterSocket(fd, family, ttl, buffer_bytes);
  if (err != 0) return FailAndClose(env, fd, "setsockopt", err);
  int one = 1;
  // An IPv6 socket serves IPv6 only: an IPv4 socket may share the port (bound to "::" it would
  // otherwise take IPv4-mapped traffic too).
  if (family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0) {
    return FailAndClose(env, fd, "setsockopt IPV6_V6ONLY", errno);
  }
  if (reuse_address && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0) {
    return FailAndClose(env, fd, "setsockopt", errno);
  }
  // The kernel splits each longer send into datagrams of this size (one trip down the stack).
  int segment = static_cast<int>(segment_bytes);
  if (segment > 0 && setsockopt(fd, SOL_UDP, UDP_SEGMENT, &segment, sizeof(segment)) != 0) {
    return FailAndClose(env, fd, "setsockopt UDP_SEGMENT", errno);
  }
  // The kernel may hand over several datagrams of one sender in one receive; reads split them.
  if (receive_offload && setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) != 0) {
    return FailAndClose(env, fd, "setsockopt UDP_GRO", errno);
  }
  SocketAddress local;
  socklen_t length = MakeSocketAddress(&local, family, address, address6, static_cast<uint16_t>(port));
  if (bind(fd, &local.any, length) != 0) return FailAndClose(env, fd, "bind", errno);
  return PacketEndpoint::Wrap(env, fd, EndpointKind::kUdp, receive_offload, false, family);
}

// One socket bound to `local`, connected to each remote in turn: a UDP connect only looks the
// route up (the discard port is never sent to), and connecting again looks the new one up, so a
// round over thousands of tunnels costs two system calls each. EAFNOSUPPORT for another family.
Napi::Value PathMtus(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t local = 0;
  uint8_t local6[16] = {};
  int family = info.Length() >= 2 && info[1].IsArray() ? ParseLocalAddress(info[0], &local, local6) : 0;
  if (family == 0) {
    ThrowArgumentError(env, "pathMtus: expected an address and an array of addresses");
    return env.Undefined();
  }
  Napi::Array remotes = info[1].As<Napi::Array>();
  uint32_t count = remotes.Length();
  Napi::Int32Array results = Napi::Int32Array::New(env, count);
  int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return FailAndClose(env, -1, "socket", errno);
  SocketAddress name;
  socklen_t length = MakeSocketAddress(&name, family, local, local6, 0);
  if (bind(fd, &name.any, length) != 0) return FailAndClose(env, fd, "bind", errno);
  for (uint32_t i = 0; i < count; i++) {
    uint32_t remote = 0;
    uint8_t remote6[16] = {};
    if (ParseLocalAddress(remotes.Get(i), &remote, remote6) != family) {
      results[i] = -EAFNOSUPPORT;
      continue;
    }
    length = MakeSocketAddress(&name, family, remote, remote6, 9);
    if (connect(fd, &name.any, length) != 0) {
      results[i] = -errno;
      continue;
    }
    int mtu = 0;
    socklen_t size = sizeof(mtu);
    int rc = family == AF_INET6 ? getsockopt(fd, IPPROTO_IPV6, IPV6_MTU, &mtu, &size) : getsockopt(fd, IPPROTO_IP, IP_MTU, &mtu, &size);
    results[i] = rc == 0 ? mtu : -errno;
  }
  close(fd);
  return results;
}

}  // namespace tunnel_native
