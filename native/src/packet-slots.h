// A batch of packet slots as plain pointers: the memory behind a JS PacketBatchMemory (BatchView)
// or memory the addon owns (OwnedSlots). Slot i starts at data + i * slot_size; its packet is
// lengths[i] bytes at offsets[i]; the socket peer is addrs[i] (IPv4, host byte order) or the 16
// bytes at addrs6 + 16 * i (IPv6, network order), and ports[i] (host byte order).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <vector>

namespace tunnel_native {

struct PacketSlots {
  uint8_t* data = nullptr;
  uint32_t* offsets = nullptr;
  uint32_t* lengths = nullptr;
  uint32_t* addrs = nullptr;
  uint16_t* ports = nullptr;
  uint32_t capacity = 0;
  uint32_t slot_size = 0;
  uint8_t* addrs6 = nullptr;

  uint8_t* Slot(uint32_t i) const { return data + static_cast<size_t>(i) * slot_size; }
  uint8_t* Packet(uint32_t i) const { return Slot(i) + offsets[i]; }
  uint8_t* Address6(uint32_t i) const { return addrs6 + static_cast<size_t>(i) * 16; }
};

// Slots in memory the addon allocates once, for reads the addon handles without JS.
class OwnedSlots {
 public:
  OwnedSlots(uint32_t capacity, uint32_t slot_size)
      : data_(static_cast<size_t>(capacity) * slot_size), offsets_(capacity), lengths_(capacity),
        addrs_(capacity), ports_(capacity), addrs6_(static_cast<size_t>(capacity) * 16) {
    slots_ = {data_.data(), offsets_.data(), lengths_.data(), addrs_.data(), ports_.data(), capacity, slot_size,
              addrs6_.data()};
  }
  const PacketSlots& slots() const { return slots_; }

 private:
  std::vector<uint8_t> data_;
  std::vector<uint32_t> offsets_;
  std::vector<uint32_t> lengths_;
  std::vector<uint32_t> addrs_;
  std::vector<uint16_t> ports_;
  std::vector<uint8_t> addrs6_;
  PacketSlots slots_;
};

}  // namespace tunnel_native
