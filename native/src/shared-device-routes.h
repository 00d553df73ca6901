// The fast routes of a TUN device several tunnels share (a hub's members that need no interface
// of their own): which route carries a packet read from it, by the longest prefix holding its
// inner destination. One hash table per prefix length in use, longest first, so a lookup costs
// at most one probe per length in use, whatever the number of routes. Changed and read with the
// forwarding threads' mutexes held, like the rest of EndpointForwarding.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <unordered_map>
#include <vector>

namespace tunnel_native {

class FastRoute;
struct SourcePrefixes;

class SharedDeviceRoutes {
 public:
  // Makes `route` the owner of exactly `prefixes` (networks and masks, as SourcePrefixes holds
  // them; a mask must be contiguous). A prefix another route holds moves to this one.
  void Set(FastRoute* route, const SourcePrefixes& prefixes);
  // Takes out every prefix `route` holds.
  void Remove(FastRoute* route);
  // The route of the longest prefix holding the destination of the IP packet, or null.
  FastRoute* Lookup(const uint8_t* packet, uint32_t length) const;
  bool Empty() const { return owned_.empty(); }
  // Every route with a prefix here.
  std::vector<FastRoute*> Routes() const;

 private:
  struct Key6 {
    uint64_t high;
    uint64_t low;
    bool operator==(const Key6& other) const { return high == other.high && low == other.low; }
  };
  struct Key6Hash {
    size_t operator()(const Key6& key) const {
      uint64_t mixed = (key.high * 0x9e3779b97f4a7c15ULL) ^ (key.low * 0xc2b2ae3d27d4eb4fULL);
      return static_cast<size_t>(mixed ^ (mixed >> 29));
    }
  };
  // What a route holds, so Set and Remove take out exactly its own entries.
  struct Owned {
    std::vector<std::pair<uint32_t, uint8_t>> v4;  // network, prefix length
    std::vector<std::pair<Key6, uint8_t>> v6;
  };

  void Erase(FastRoute* route, const Owned& owned);
  void RefreshLengths();

  std::unordered_map<uint32_t, FastRoute*> v4_[33];
  std::unordered_map<Key6, FastRoute*, Key6Hash> v6_[129];
  // The prefix lengths in use, longest first.
  std::vector<uint8_t> lengths4_;
  std::vector<uint8_t> lengths6_;
  std::unordered_map<FastRoute*, Owned> owned_;
};

}  // namespace tunnel_native
