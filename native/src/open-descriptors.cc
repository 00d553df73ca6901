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

#include "packet-endpoint.h"
#include "virtio-net-header.h"
#include "system-error.h"

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
int ConfigureOuterSocket(int fd, int ttl, int buffer_bytes) {
  int pmtu = IP_PMTUDISC_DONT;
  if (setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof(pmtu)) != 0) return errno;
  if (setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl)) != 0) return errno;
  SetBufferSizes(fd, buffer_bytes);
  return 0;
}

struct sockaddr_in Ipv4SocketAddress(uint32_t address, uint16_t port) {
  struct sockaddr_in name = {};
  name.sin_family = AF_INET;
  name.sin_port = htons(port);
  name.sin_addr.s_addr = htonl(address);
  return name;
}

}  // namespace

Napi::Value OpenTun(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) {
    ThrowArgumentError(env, "openTun: name must be a string");
    return env.Undefined();
  }
  std::string name = info[0].As<Napi::String>().Utf8Value();
  if (name.empty() || name.size() >= IFNAMSIZ) {
    ThrowArgumentError(env, "openTun: bad interface name length");
    return env.Undefined();
  }
  bool multi_queue = info[1].ToBoolean().Value();
  bool offload = info[2].ToBoolean().Value();

  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return FailAndClose(env, -1, "open /dev/net/tun", errno);
  struct ifreq request = {};
  memcpy(request.ifr_name, name.data(), name.size());
  // Not persistent (no TUNSETPERSIST): the kernel removes the device when the last fd closes.
  request.ifr_flags = IFF_TUN | IFF_NO_PI | (multi_queue ? IFF_MULTI_QUEUE : 0) | (offload ? IFF_VNET_HDR : 0);
  if (ioctl(fd, TUNSETIFF, &request) != 0) return FailAndClose(env, fd, "ioctl TUNSETIFF", errno);
  // Offloads: the kernel may hand over TCP super-packets of up to 64 KB (TSO4/TSO6) and leave
  // checksums partial (CSUM); the endpoint splits and finishes them, and merges received segments.
  // A kernel that refuses them gets a plain TUN.
  if (offload) {
    int header_bytes = static_cast<int>(sizeof(VirtioNetHeader));
    unsigned int features = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
    if (ioctl(fd, TUNSETVNETHDRSZ, &header_bytes) != 0 || ioctl(fd, TUNSETOFFLOAD, features) != 0) {
      close(fd);
      fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
      if (fd < 0) return FailAndClose(env, -1, "open /dev/net/tun", errno);
      request.ifr_flags = static_cast<short>(request.ifr_flags & ~IFF_VNET_HDR);
      if (ioctl(fd, TUNSETIFF, &request) != 0) return FailAndClose(env, fd, "ioctl TUNSETIFF", errno);
      offload = false;
    }
  }

  Napi::Value endpoint = PacketEndpoint::Wrap(env, fd, EndpointKind::kTun, false, offload);
  if (env.IsExceptionPending()) return env.Undefined();
  Napi::Array result = Napi::Array::New(env, 3);
  result.Set(0u, endpoint);
  request.ifr_name[IFNAMSIZ - 1] = '\0';
  result.Set(1u, Napi::String::New(env, request.ifr_name));
  result.Set(2u, Napi::Boolean::New(env, offload));
  return result;
}

Napi::Value OpenRawSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsNumber() ||
      !info[3].IsNumber()) {
    ThrowArgumentError(env, "openRawSocket: expected protocol, address, ttl, bufferBytes");
    return env.Undefined();
  }
  int protocol = info[0].As<Napi::Number>().Int32Value();
  uint32_t address = info[1].As<Napi::Number>().Uint32Value();
  int ttl = info[2].As<Napi::Number>().Int32Value();
  int buffer_bytes = info[3].As<Napi::Number>().Int32Value();

  int fd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
  if (fd < 0) return FailAndClose(env, -1, "socket", errno);
  int err = ConfigureOuterSocket(fd, ttl, buffer_bytes);
  if (err != 0) return FailAndClose(env, fd, "setsockopt", err);
  // Binding a raw socket sets the outer source address and limits delivery to packets sent to it.
  struct sockaddr_in local = Ipv4SocketAddress(address, 0);
  if (bind(fd, reinterpret_cast<struct sockaddr*>(&local), sizeof(local)) != 0) {
    return FailAndClose(env, fd, "bind", errno);
  }
  return PacketEndpoint::Wrap(env, fd, EndpointKind::kRaw);
}

Napi::Value OpenUdpSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 5 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsNumber() ||
      !info[3].IsNumber()) {
    ThrowArgumentError(env, "openUdpSocket: expected address, port, ttl, bufferBytes, reuseAddress");
    return env.Undefined();
  }
  uint32_t address = info[0].As<Napi::Number>().Uint32Value();
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

  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return FailAndClose(env, -1, "socket", errno);
  int err = ConfigureOuterSocket(fd, ttl, buffer_bytes);
  if (err != 0) return FailAndClose(env, fd, "setsockopt", err);
  int one = 1;
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
  struct sockaddr_in local = Ipv4SocketAddress(address, static_cast<uint16_t>(port));
  if (bind(fd, reinterpret_cast<struct sockaddr*>(&local), sizeof(local)) != 0) {
    return FailAndClose(env, fd, "bind", errno);
  }
  return PacketEndpoint::Wrap(env, fd, EndpointKind::kUdp, receive_offload);
}

}  // namespace tunnel_native
