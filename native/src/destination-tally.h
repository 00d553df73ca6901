// Bytes toward the busiest inner destinations of one route's received packets, in a table of
// fixed size: what a hub counts on each member's tunnel to find member pairs worth a shortcut.
// Each packet costs one hash and at most two compares, whatever the number of members. A
// destination hashes to one set of two entries; when both hold other destinations, the three
// share the packet's bytes Misra-Gries style (both entries lose what the newcomer brings, up to
// the smaller count, and an entry that reaches zero is taken over), so a count is never more
// than the bytes really sent and a destination carrying more than a third of its set's bytes
// keeps its entry. JS drains the table about once a second (shared/datapath/destination-tally.ts
// counts the JS path the same way). Not thread-safe: counted by the thread that owns the outer
// sockets, drained with every forwarding mutex held.
#pragma once

#include <stdint.h>
#include <string.h>

#include <atomic>

namespace tunnel_native {

// Packets every route of the process has tallied, ever: while it stands still no table holds
// anything, and a hub skips draining its thousands of routes (destinationTallyCount()).
inline std::atomic<uint64_t> tallied_packets{0};

class DestinationTally {
 public:
  static constexpr uint32_t kSets = 8;
  static constexpr uint32_t kWays = 2;
  static constexpr uint32_t kEntries = kSets * kWays;

  struct Entry {
    uint8_t version = 0;  // 4 or 6; 0: empty
    uint8_t address[16] = {};
    uint64_t bytes = 0;
  };

  // Counts one inner IPv4 or IPv6 packet of `length` bytes (at least a whole IP header).
  void Count(const uint8_t* packet, uint32_t length) {
    uint8_t version = packet[0] >> 4;
    const uint8_t* destination;
    uint32_t size;
    if (version == 4 && length >= 20) {
      destination = packet + 16;
      size = 4;
    } else if (version == 6 && length >= 40) {
      destination = packet + 24;
      size = 16;
    } else {
      return;
    }
    uint32_t hash = 2166136261u;  // FNV-1a
    for (uint32_t i = 0; i < size; i++) hash = (hash ^ destination[i]) * 16777619u;
    Entry* set = entries_ + (hash % kSets) * kWays;
    Entry* empty = nullptr;
    for (uint32_t way = 0; way < kWays; way++) {
      Entry& entry = set[way];
      if (entry.bytes == 0) {
        if (empty == nullptr) empty = &entry;
        continue;
      }
      if (entry.version == version && memcmp(entry.address, destination, size) == 0) {
        entry.bytes += length;
        return;
      }
    }
    uint64_t left = length;
    if (empty == nullptr) {
      uint64_t share = left;
      for (uint32_t way = 0; way < kWays; way++) share = set[way].bytes < share ? set[way].bytes : share;
      for (uint32_t way = 0; way < kWays; way++) {
        set[way].bytes -= share;
        if (set[way].bytes == 0 && empty == nullptr) empty = &set[way];
      }
      left -= share;
    }
    if (empty == nullptr || left == 0) return;
    empty->version = version;
    memset(empty->address, 0, sizeof(empty->address));
    memcpy(empty->address, destination, size);
    empty->bytes = left;
  }

  // Copies the entries that counted anything into `out` (room for kEntries), clears the table and
  // returns how many were copied.
  uint32_t Drain(Entry* out) {
    uint32_t count = 0;
    for (Entry& entry : entries_) {
      if (entry.bytes > 0) out[count++] = entry;
      entry = Entry();
    }
    return count;
  }

 private:
  Entry entries_[kEntries];
};

}  // namespace tunnel_native
