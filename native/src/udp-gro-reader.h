// Reads a UDP socket with receive offload on (UDP_GRO): the kernel hands over up to 64 KB of
// datagrams from one sender, all of one size but the last, in a single receive. This splits them
// back into one datagram per slot, so callers see exactly what they would without it, for one
// trip up the stack per run instead of one per datagram. Datagrams left over when the slots run
// out wait for the next read.
#pragma once

#include <stdint.h>

#include <vector>

#include "packet-slots.h"

namespace tunnel_native {

class UdpGroReader {
 public:
  UdpGroReader();

  // Fills up to slots.capacity slots at `headroom`; returns how many, 0 when nothing waits, or a
  // negative errno. A datagram larger than a slot is dropped and counted in `truncated`.
  int Read(int fd, const PacketSlots& slots, uint32_t headroom, double* truncated);

 private:
  // One receive into buffer_: 1 when it got datagrams, 0 when none wait, or a negative errno.
  int Receive(int fd, double* truncated);

  std::vector<uint8_t> buffer_;
  uint32_t offset_ = 0;
  uint32_t pending_ = 0;
  uint32_t segment_ = 0;
  uint32_t addr_ = 0;
  uint16_t port_ = 0;
};

}  // namespace tunnel_native
