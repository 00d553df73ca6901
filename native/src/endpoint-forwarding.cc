#include "endpoint-forwarding.h"

#include <string.h>

#include <utility>

#include "fast-route.h"
#include "packet-endpoint.h"

namespace tunnel_native {

namespace {

constexpr uint32_t kMinIpv4Header = 20;

}  // namespace

int EndpointForwarding::PumpOnce(PacketEndpoint& endpoint, unsigned queue, ForwardingScratch& scratch) {
  const PacketSlots& slots = scratch.read.slots();
  bool tun = endpoint.kind() == EndpointKind::kTun;
  int n = endpoint.ReadPackets(queue, slots, tun ? kTunHeadroom : 0);
  if (n <= 0) return n;
  uint32_t count = static_cast<uint32_t>(n);
  if (tun) {
    if (transmit_route_ != nullptr) {
      transmit_route_->Transmit(scratch, nullptr, count, queue);
    } else if (!shared_routes_.Empty()) {
      TransmitShared(count, queue, scratch);
    } else {
      for (uint32_t i = 0; i < count; i++) scratch.slow[i] = true;
    }
    for (uint32_t i = 0; i < count; i++) {
      if (scratch.slow[i]) Stash(slots, i);
    }
  } else {
    Receive(count, endpoint.kind() == EndpointKind::kRaw, endpoint.family() == AF_INET6, scratch);
  }
  return n;
}

// IPv4 raw sockets read the outer IPv4 header too; IPv6 raw sockets and UDP sockets read the
// payload. A packet goes to a route only when its source (and port) and the route's header both
// match. Consecutive packets of one route are written to its TUN together.
void EndpointForwarding::Receive(uint32_t count, bool raw, bool ipv6, ForwardingScratch& scratch) {
  const PacketSlots& slots = scratch.read.slots();
  PacketSlots run = {slots.data, scratch.run_offsets, scratch.run_lengths, nullptr, nullptr, kCapacity, 0, nullptr};
  FastRoute* run_route = nullptr;
  uint32_t run_count = 0;
  for (uint32_t i = 0; i < count; i++) {
    const uint8_t* payload = slots.Packet(i);
    uint32_t length = slots.lengths[i];
    if (raw && !ipv6) {
      uint32_t header_length = length >= kMinIpv4Header ? (payload[0] & 0x0f) * 4u : 0;
      if (length < kMinIpv4Header || (payload[0] >> 4) != 4 || header_length < kMinIpv4Header ||
          header_length > length) {
        Stash(slots, i);
        continue;
      }
      payload += header_length;
      length -= header_length;
    }
    uint16_t port = raw ? 0 : slots.ports[i];
    auto found = receive_routes_.find(ipv6 ? RouteKey6(slots.Address6(i), port) : RouteKey4(slots.addrs[i], port));
    FastRoute* taker = nullptr;
    const uint8_t* inner = nullptr;
    uint32_t inner_length = 0;
    bool refused = false;
    if (found != receive_routes_.end()) {
      for (FastRoute* route : found->second) {
        if (route->Encrypted()) {
          uint8_t* out = scratch.opened.slots().Slot(i);
          uint32_t offset = 0;
          FastRoute::EspVerdict verdict = route->AcceptEsp(payload, length, out, &offset, &inner_length);
          if (verdict == FastRoute::EspVerdict::kNotMine) continue;
          if (verdict == FastRoute::EspVerdict::kTake) {
            taker = route;
            inner = out + offset;
          }
          refused = verdict == FastRoute::EspVerdict::kDrop;
          break;
        }
        uint32_t header_length = 0;
        if (route->Accept(payload, length, &header_length)) {
          taker = route;
          inner = payload + header_length;
          inner_length = length - header_length;
          break;
        }
      }
    }
    // Refused ESP was counted by its SA: nothing is left for JS to learn from it.
    if (refused) continue;
    if (taker == nullptr) {
      Stash(slots, i);
      continue;
    }
    if (taker != run_route && run_count > 0) {
      run_route->DeliverRun(scratch, run, run_count);
      run_count = 0;
    }
    if (run_count == 0) run.data = taker->Encrypted() ? scratch.opened.slots().data : slots.data;
    run_route = taker;
    scratch.run_offsets[run_count] = static_cast<uint32_t>(inner - run.data);
    scratch.run_lengths[run_count] = inner_length;
    run_count++;
  }
  if (run_count > 0) run_route->DeliverRun(scratch, run, run_count);
}

void EndpointForwarding::TransmitShared(uint32_t count, unsigned queue, ForwardingScratch& scratch) {
  const PacketSlots& slots = scratch.read.slots();
  FastRoute* run_route = nullptr;
  uint32_t run_count = 0;
  for (uint32_t i = 0; i < count; i++) {
    FastRoute* route = shared_routes_.Lookup(slots.Packet(i), slots.lengths[i]);
    scratch.slow[i] = true;
    if (route == nullptr) continue;
    if (route != run_route && run_count > 0) {
      run_route->Transmit(scratch, scratch.shared_run, run_count, queue);
      run_count = 0;
    }
    run_route = route;
    scratch.shared_run[run_count++] = i;
  }
  if (run_count > 0) run_route->Transmit(scratch, scratch.shared_run, run_count, queue);
}

size_t EndpointForwarding::Stashed() const {
  std::lock_guard<std::mutex> guard(stash_mutex_);
  return stash_.size();
}

double EndpointForwarding::unread_drops() const {
  std::lock_guard<std::mutex> guard(stash_mutex_);
  return unread_drops_;
}

void EndpointForwarding::Stash(const PacketSlots& from, uint32_t i) {
  std::lock_guard<std::mutex> guard(stash_mutex_);
  if (stash_.size() >= kStashLimit) {
    unread_drops_++;
    return;
  }
  const uint8_t* packet = from.Packet(i);
  StashedPacket stashed = {std::vector<uint8_t>(packet, packet + from.lengths[i]), from.addrs[i], from.ports[i], {}};
  memcpy(stashed.addr6, from.Address6(i), 16);
  stash_.push_back(std::move(stashed));
}

uint32_t EndpointForwarding::DrainStash(const PacketSlots& into, uint32_t headroom) {
  std::lock_guard<std::mutex> guard(stash_mutex_);
  uint32_t count = 0;
  while (count < into.capacity && !stash_.empty()) {
    StashedPacket& packet = stash_.front();
    uint32_t length = static_cast<uint32_t>(packet.bytes.size());
    if (length <= into.slot_size - headroom) {
      memcpy(into.Slot(count) + headroom, packet.bytes.data(), length);
      into.offsets[count] = headroom;
      into.lengths[count] = length;
      into.addrs[count] = packet.addr;
      into.ports[count] = packet.port;
      memcpy(into.Address6(count), packet.addr6, 16);
      count++;
    } else {
      unread_drops_++;
    }
    stash_.pop_front();
  }
  return count;
}

void EndpointForwarding::AttachReceive(const RouteKey& key, FastRoute* route) { receive_routes_[key].push_back(route); }

void EndpointForwarding::DetachReceive(const RouteKey& key, FastRoute* route) {
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
  for (FastRoute* route : shared_routes_.Routes()) routes.push_back(route);
  for (const auto& entry : receive_routes_) routes.insert(routes.end(), entry.second.begin(), entry.second.end());
  for (FastRoute* route : routes) route->ForgetEndpoint(endpoint);
  transmit_route_ = nullptr;
  for (FastRoute* route : shared_routes_.Routes()) shared_routes_.Remove(route);
  receive_routes_.clear();
}

}  // namespace tunnel_native
