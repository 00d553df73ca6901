// What a packet endpoint does once fast routes are attached to it: the forwarding threads read its
// packets, hand each one a route claims to that route, and stash the rest, which JS's next
// read() drains. The JS contract (onReadable, then read until 0) stays as it was.
// Every method runs with a forwarding thread's mutex held (the thread of the queue it reads), or
// with all of them (ForwardingLock, from JS). The stash has a mutex of its own: the threads of a
// multi-queue TUN's queues fill it at once.
#pragma once

#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <deque>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "packet-slots.h"
#include "shared-device-routes.h"
#include "tun-packet-writer.h"
#include "tun-write-ring.h"

namespace tunnel_native {

class FastRoute;
class PacketEndpoint;
struct ForwardingScratch;
enum class EndpointKind;

// Where received packets are looked up: remote address and UDP port (0 on raw sockets). An IPv4
// address is kept IPv4-mapped (::ffff:a.b.c.d), so one key type serves both families.
struct RouteKey {
  uint8_t address[16];
  uint16_t port;
  bool operator==(const RouteKey& other) const {
    return port == other.port && memcmp(address, other.address, 16) == 0;
  }
};

inline RouteKey RouteKey4(uint32_t address, uint16_t port) {
  RouteKey key = {};
  key.address[10] = 0xff;
  key.address[11] = 0xff;
  key.address[12] = static_cast<uint8_t>(address >> 24);
  key.address[13] = static_cast<uint8_t>(address >> 16);
  key.address[14] = static_cast<uint8_t>(address >> 8);
  key.address[15] = static_cast<uint8_t>(address);
  key.port = port;
  return key;
}

inline RouteKey RouteKey6(const uint8_t* address, uint16_t port) {
  RouteKey key;
  memcpy(key.address, address, 16);
  key.port = port;
  return key;
}

struct RouteKeyHash {
  size_t operator()(const RouteKey& key) const {
    uint64_t high;
    uint64_t low;
    memcpy(&high, key.address, 8);
    memcpy(&low, key.address + 8, 8);
    uint64_t mixed = (high * 0x9e3779b97f4a7c15ULL) ^ (low * 0xc2b2ae3d27d4eb4fULL) ^ key.port;
    return static_cast<size_t>(mixed ^ (mixed >> 29));
  }
};

class EndpointForwarding {
 public:
  // Same shape as the engine's batches, so one native read matches one JS read.
  static constexpr uint32_t kCapacity = 64;
  static constexpr uint32_t kSlotSize = 2048;
  // Room in front of each TUN packet for the largest header template.
  static constexpr uint32_t kTunHeadroom = 64;
  // Packets kept for JS at most; past that (JS not reading) they are dropped and counted.
  static constexpr size_t kStashLimit = 256;

  bool Active() const { return transmit_route_ != nullptr || !shared_routes_.Empty() || !receive_routes_.empty(); }
  // Reads one batch of `endpoint`'s queue `queue` into the scratch slots, forwards what routes
  // take, stashes the rest. Returns the packets read, or a negative errno.
  int PumpOnce(PacketEndpoint& endpoint, unsigned queue, ForwardingScratch& scratch);
  size_t Stashed() const;
  // Moves stashed packets into `into` at `headroom`; returns how many.
  uint32_t DrainStash(const PacketSlots& into, uint32_t headroom);
  double unread_drops() const;

  void SetTransmitRoute(FastRoute* route) { transmit_route_ = route; }
  FastRoute* transmit_route() const { return transmit_route_; }
  // A TUN several tunnels share: each packet goes to the route its destination picks.
  SharedDeviceRoutes& shared_routes() { return shared_routes_; }
  void AttachReceive(const RouteKey& key, FastRoute* route);
  void DetachReceive(const RouteKey& key, FastRoute* route);
  // The endpoint is closing: every route forgets it.
  void ForgetAll(const PacketEndpoint* endpoint);

 private:
  struct StashedPacket {
    std::vector<uint8_t> bytes;
    uint32_t addr;
    uint16_t port;
    uint8_t addr6[16];
  };

  void Stash(const PacketSlots& from, uint32_t i);
  // `raw`: a raw socket (an IPv4 one reads the outer IPv4 header too); `ipv6`: the socket's
  // sources are IPv6 addresses.
  void Receive(uint32_t count, bool raw, bool ipv6, ForwardingScratch& scratch);
  // A shared TUN's batch: runs of consecutive packets for one route are sent together; a packet
  // no prefix holds is left to JS.
  void TransmitShared(uint32_t count, unsigned queue, ForwardingScratch& scratch);

  // Slow packets are rare (keepalives, hellos, ICMP cases), so each gets its own small allocation.
  mutable std::mutex stash_mutex_;
  std::deque<StashedPacket> stash_;
  double unread_drops_ = 0;
  FastRoute* transmit_route_ = nullptr;
  SharedDeviceRoutes shared_routes_;
  // RouteKey -> routes; the header template decides between them (e.g. GRE keys).
  std::unordered_map<RouteKey, std::vector<FastRoute*>, RouteKeyHash> receive_routes_;
};

// The forwarding thread's working memory, lent to each endpoint it pumps: one copy for all.
struct ForwardingScratch {
  ForwardingScratch()
      : read(EndpointForwarding::kCapacity, EndpointForwarding::kSlotSize),
        opened(EndpointForwarding::kCapacity, EndpointForwarding::kSlotSize) {}

  // Where packets are read.
  OwnedSlots read;
  // Where an encrypted route opens received ESP (out of place: a packet it leaves for JS stays sealed).
  OwnedSlots opened;
  // The read slot of each fast packet of a transmit.
  uint32_t fast_slots[EndpointForwarding::kCapacity] = {};
  // A shared TUN's run of packets for one route: their read slots.
  uint32_t shared_run[EndpointForwarding::kCapacity] = {};
  // The ring and writer received packets go to their TUN through, and each packet's outcome.
  TunWriteRing ring;
  TunPacketWriter writer;
  int32_t results[EndpointForwarding::kCapacity] = {};
  // TUN packets a route left to JS.
  bool slow[EndpointForwarding::kCapacity] = {};
  // The inner packets of one route's run, as offsets from the read batch's start (slot size 0).
  uint32_t run_offsets[EndpointForwarding::kCapacity] = {};
  uint32_t run_lengths[EndpointForwarding::kCapacity] = {};
  // A route's sends: one iovec per datagram, grouped into messages (several datagrams each with
  // UDP segmentation offload), and each datagram's inner length for the counters.
  struct mmsghdr messages[EndpointForwarding::kCapacity] = {};
  struct iovec iovs[EndpointForwarding::kCapacity] = {};
  uint32_t inner_lengths[EndpointForwarding::kCapacity] = {};
  alignas(struct cmsghdr) char controls[EndpointForwarding::kCapacity][CMSG_SPACE(sizeof(uint16_t))] = {};
  uint32_t message_first[EndpointForwarding::kCapacity] = {};
  uint32_t message_count[EndpointForwarding::kCapacity] = {};
};

}  // namespace tunnel_native
