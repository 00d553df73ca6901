#include "shared-device-routes.h"

#include <string.h>

#include "fast-route.h"

namespace tunnel_native {

namespace {

uint8_t MaskLength4(uint32_t mask) { return static_cast<uint8_t>(__builtin_popcount(mask)); }

uint64_t Mask64(unsigned bits) { return bits == 0 ? 0 : bits >= 64 ? ~0ULL : ~0ULL << (64 - bits); }

uint64_t ReadHalf(const uint8_t* bytes) {
  uint64_t value = 0;
  for (int i = 0; i < 8; i++) value = value << 8 | bytes[i];
  return value;
}

}  // namespace

void SharedDeviceRoutes::Set(FastRoute* route, const SourcePrefixes& prefixes) {
  auto found = owned_.find(route);
  if (found != owned_.end()) {
    Erase(route, found->second);
    owned_.erase(found);
  }
  Owned owned;
  for (size_t i = 0; i + 1 < prefixes.v4.size(); i += 2) {
    uint8_t length = MaskLength4(prefixes.v4[i + 1]);
    uint32_t network = prefixes.v4[i] & prefixes.v4[i + 1];
    v4_[length][network] = route;
    owned.v4.emplace_back(network, length);
  }
  for (const SourcePrefixes::V6& entry : prefixes.v6) {
    unsigned length = 0;
    for (int b = 0; b < 16; b++) length += static_cast<unsigned>(__builtin_popcount(entry.mask[b]));
    Key6 key = {ReadHalf(entry.network) & Mask64(length), ReadHalf(entry.network + 8) & Mask64(length > 64 ? length - 64 : 0)};
    v6_[length][key] = route;
    owned.v6.emplace_back(key, static_cast<uint8_t>(length));
  }
  if (!owned.v4.empty() || !owned.v6.empty()) owned_[route] = std::move(owned);
  RefreshLengths();
}

void SharedDeviceRoutes::Remove(FastRoute* route) {
  auto found = owned_.find(route);
  if (found == owned_.end()) return;
  Erase(route, found->second);
  owned_.erase(found);
  RefreshLengths();
}

void SharedDeviceRoutes::Erase(FastRoute* route, const Owned& owned) {
  // Only entries still pointing at this route: another may have taken a prefix over since.
  for (const auto& [network, length] : owned.v4) {
    auto entry = v4_[length].find(network);
    if (entry != v4_[length].end() && entry->second == route) v4_[length].erase(entry);
  }
  for (const auto& [key, length] : owned.v6) {
    auto entry = v6_[length].find(key);
    if (entry != v6_[length].end() && entry->second == route) v6_[length].erase(entry);
  }
}

void SharedDeviceRoutes::RefreshLengths() {
  lengths4_.clear();
  lengths6_.clear();
  for (int length = 32; length >= 0; length--) {
    if (!v4_[length].empty()) lengths4_.push_back(static_cast<uint8_t>(length));
  }
  for (int length = 128; length >= 0; length--) {
    if (!v6_[length].empty()) lengths6_.push_back(static_cast<uint8_t>(length));
  }
}

FastRoute* SharedDeviceRoutes::Lookup(const uint8_t* packet, uint32_t length) const {
  if (length == 0) return nullptr;
  uint8_t version = packet[0] >> 4;
  if (version == 4 && length >= 20) {
    uint32_t destination = static_cast<uint32_t>(packet[16]) << 24 | static_cast<uint32_t>(packet[17]) << 16 |
                           static_cast<uint32_t>(packet[18]) << 8 | packet[19];
    for (uint8_t bits : lengths4_) {
      uint32_t mask = bits == 0 ? 0 : ~0U << (32 - bits);
      auto found = v4_[bits].find(destination & mask);
      if (found != v4_[bits].end()) return found->second;
    }
    return nullptr;
  }
  if (version == 6 && length >= 40) {
    uint64_t high = ReadHalf(packet + 24);
    uint64_t low = ReadHalf(packet + 32);
    for (uint8_t bits : lengths6_) {
      Key6 key = {high & Mask64(bits), low & Mask64(bits > 64 ? bits - 64u : 0u)};
      auto found = v6_[bits].find(key);
      if (found != v6_[bits].end()) return found->second;
    }
  }
  return nullptr;
}

std::vector<FastRoute*> SharedDeviceRoutes::Routes() const {
  std::vector<FastRoute*> routes;
  routes.reserve(owned_.size());
  for (const auto& entry : owned_) routes.push_back(entry.first);
  return routes;
}

}  // namespace tunnel_native
