#include "endpoint-forwarding.h"

#include <string.h>

#include "fast-route.h"
#include "packet-endpoint.h"

namespace tunnel_native {

namespace {

constexpr uint32_t kMinIpv4Header = 20;

}  // namespace

EndpointForwarding::EndpointForwarding() : read_(kCapacity, kSlotSize), stash_(kCapacity, kSlotSize) {}

int EndpointForwarding::PumpOnce(PacketEndpoint& endpoint) {
  const PacketSlots& slots = read_.slots();
  bool tun = endpoint.kind() == EndpointKind::kTun;
  int n = endpoint.ReadPackets(slots, tun ? kTunHeadroom : 0);
  if (n <= 0) return n;
  uint32_t count = static_cast<uint32_t>(n);
  if (tun) {
    if (transmit_route_ != nullptr) {
      transmit_route_->Transmit(slots, count, slow_);
    } else {
      for (uint32_t i = 0; i < count; i++) slow_[i] = true;
    }
    for (uint32_t i = 0; i < count; i++) {
      if (slow_[i]) Stash(slots, i);
    }
  } else {
    Receive(slots, count, endpoint.kind() == EndpointKind::kRaw);
  }
  return n;
}

// Raw sockets read the outer IPv4 header too; UDP sockets read the payload. A packet goes to a
// route only when its source (and port) and the route's header both match.
void EndpointForwarding::Receive(const PacketSlots& slots, uint32_t count, bool raw) {
  for (uint32_t i = 0; i < count; i++) {
    const uint8_t* payload = slots.Packet(i);
    uint32_t length = slots.lengths[i];
    if (raw) {
      uint32_t header_length = length >= kMinIpv4Header ? (payload[0] & 0x0f) * 4u : 0;
      if (length < kMinIpv4Header || (payload[0] >> 4) != 4 || header_length < kMinIpv4Header ||
          header_length > length) {
        Stash(slots, i);
        continue;
      }
      payload += header_length;
      length -= header_length;
    }
    auto found = receive_routes_.find(RouteKey(slots.addrs[i], raw ? 0 : slots.ports[i]));
    bool taken = false;
    if (found != receive_routes_.end()) {
      for (FastRoute* route : found->second) {
        if (route->Deliver(payload, length)) {
          taken = true;
          break;
        }
      }
    }
    if (!taken) Stash(slots, i);
  }
}

void EndpointForwarding::Stash(const PacketSlots& from, uint32_t i) {
  if (stash_count_ == kCapacity) {
    // JS has not drained the last round (no reader is set): the packet is lost, and counted.
    unread_drops_++;
    return;
  }
  const PacketSlots& stash = stash_.slots();
  uint32_t k = stash_count_++;
  memcpy(stash.Slot(k), from.Packet(i), from.lengths[i]);
  stash.offsets[k] = 0;
  stash.lengths[k] = from.lengths[i];
  stash.addrs[k] = from.addrs[i];
  stash.ports[k] = from.ports[i];
}

uint32_t EndpointForwarding::DrainStash(const PacketSlots& into, uint32_t headroom) {
  const PacketSlots& stash = stash_.slots();
  uint32_t count = 0;
  while (count < into.capacity && stash_next_ < stash_count_) {
    uint32_t k = stash_next_++;
    if (stash.lengths[k] > into.slot_size - headroom) {
      unread_drops_++;
      continue;
    }
    memcpy(into.Slot(count) + headroom, stash.Slot(k), stash.lengths[k]);
    into.offsets[count] = headroom;
    into.lengths[count] = stash.lengths[k];
    into.addrs[count] = stash.addrs[k];
    into.ports[count] = stash.ports[k];
    count++;
  }
  if (stash_next_ == stash_count_) stash_next_ = stash_count_ = 0;
  return count;
}

void EndpointForwarding::AttachReceive(uint64_t key, FastRoute* route) { receive_routes_[key].push_back(route); }

void EndpointForwarding::DetachReceive(uint64_t key, FastRoute* route) {
  auto found = receive_routes_.find(key);
  if (found == receive_routes_.end()) return;
  auto& routes = found->second;
  for (size_t i = 0; i < routes.size(); i++) {
    if (routes[i] == route) {
      routes.erase(routes.begin() + static_cast<std::ptrdiff_t>(i));
      break;
    }
  }
  if (routes.empty()) receive_routes_.erase(found);
}

void EndpointForwarding::ForgetAll(const PacketEndpoint* endpoint) {
  // Copy first: ForgetEndpoint detaches the route from these very tables.
  std::vector<FastRoute*> routes;
  if (transmit_route_ != nullptr) routes.push_back(transmit_route_);
  for (const auto& entry : receive_routes_) routes.insert(routes.end(), entry.second.begin(), entry.second.end());
  for (FastRoute* route : routes) route->ForgetEndpoint(endpoint);
  transmit_route_ = nullptr;
  receive_routes_.clear();
}

}  // namespace tunnel_native
