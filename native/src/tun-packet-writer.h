// Writes runs of inner packets into a TUN device. A plain TUN takes one write per packet; a run of
// two or more goes through io_uring in one system call. A TUN opened with IFF_VNET_HDR needs a
// virtio-net header in front of every write, and takes a TCP super-packet as one write: here
// consecutive TCP segments of one flow are merged into one (receive offload, what a NIC's GRO does),
// so a burst enters the kernel's stack once instead of once per segment. A segment is merged only
// after its checksum verified, since the merged packet's checksum is left for the kernel to trust
// (NEEDS_CSUM); one that fails is written alone, as received, and the kernel drops it.
#pragma once

#include <stdint.h>

#include <vector>

#include "packet-slots.h"
#include "tun-offload-reader.h"
#include "tun-write-ring.h"

namespace tunnel_native {

class TunPacketWriter {
 public:
  TunPacketWriter();

  // Writes packets [0, count) of `run` into `fd` (with a virtio-net header when `vnet`) and stores
  // in results[i] packet i's outcome: >= 0 written, or -errno. Through `ring` when it can.
  void Write(int fd, bool vnet, TunWriteRing& ring, const PacketSlots& run, uint32_t count, int32_t* results,
             TunOffloadCounters* counters);

 private:
  // The packets [first, end) that merge with packet `first` into one TCP super-packet.
  uint32_t MergeEnd(const PacketSlots& run, uint32_t first, uint32_t count);
  // Builds the super-packet of packets [first, end) in the arena; false when it has no room.
  bool BuildMerged(const PacketSlots& run, uint32_t first, uint32_t end, TunWriteUnit* unit);
  void Submit(int fd, TunWriteRing& ring, uint32_t units);

  // Where super-packets are built; allocated on the first merge.
  std::vector<uint8_t> arena_;
  size_t arena_used_ = 0;
  TunWriteUnit units_[TunWriteRing::kRunLength] = {};
  // The packets each unit carries: [unit_first_[u], unit_first_[u] + unit_count_[u]).
  uint32_t unit_first_[TunWriteRing::kRunLength] = {};
  uint32_t unit_count_[TunWriteRing::kRunLength] = {};
  int32_t unit_results_[TunWriteRing::kRunLength] = {};
};

}  // namespace tunnel_native
