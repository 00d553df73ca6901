// The inbound SAs of one receiver, found by SPI: a link's current SA and, during a rekey, the
// next one and the previous one in its grace period. Changing it allocates (at configuration
// time); finding an SA does not. Packets no SA could look at are counted here. Users hold mutex().
#pragma once

#include <stdint.h>

#include <memory>
#include <mutex>
#include <unordered_map>

#include "esp-security-association.h"

namespace tunnel_native {

class EspInboundTable {
 public:
  // Adds `sa`, replacing any SA with its SPI.
  void Add(std::shared_ptr<EspSecurityAssociation> sa) { sas_[sa->Spi()] = std::move(sa); }
  // False when no SA had `spi`.
  bool Remove(uint32_t spi) { return sas_.erase(spi) > 0; }
  EspSecurityAssociation* Find(uint32_t spi) const {
    auto found = sas_.find(spi);
    return found == sas_.end() ? nullptr : found->second.get();
  }
  size_t Size() const { return sas_.size(); }

  // Packets with no SA for their SPI, and packets too short to carry an SPI and sequence number.
  uint64_t unknown_spi = 0;
  uint64_t truncated = 0;

  // Held while the table changes and while a batch is opened with it (JS, or the fast route on the
  // socket thread); taken before any of its SAs' mutexes.
  std::mutex& mutex() { return mutex_; }

 private:
  std::mutex mutex_;
  std::unordered_map<uint32_t, std::shared_ptr<EspSecurityAssociation>> sas_;
};

}  // namespace tunnel_native
