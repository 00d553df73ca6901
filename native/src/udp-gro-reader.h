// Reads a UDP socket with receive offload on (UDP_GRO): the kernel may hand over up to 64 KB of
// datagrams from one sender, all of one size but the last, as one message. This splits them back
// into one datagram per slot, so callers see exactly what they would without it, for one trip up
// the stack per run instead of one per datagram. Up to kMessages messages come per recvmmsg, so
// traffic that is not coalesced costs no more system calls than a plain batched read. Datagrams
// left over when the slots run out wait for the next read.
#pragma once

#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>

#include <vector>

#include "packet-slots.h"
#include "socket-address.h"

namespace tunnel_native {

class UdpGroReader {
 public:
  static constexpr uint32_t kMessages = 8;

  UdpGroReader();

  // Fills up to slots.capacity slots at `headroom`; returns how many, 0 when nothing waits, or a
  // negative errno. A datagram larger than a slot is dropped and counted in `truncated`.
  int Read(int fd, const PacketSlots& slots, uint32_t headroom, double* truncated);

 private:
  // One recvmmsg: the number of messages (0 when none wait), or a negative errno.
  int Receive(int fd);
  // Where message i's datagrams start and how long each is (the last may be shorter).
  void Prepare(uint32_t i);

  std::vector<uint8_t> buffer_;
  struct mmsghdr messages_[kMessages] = {};
  struct iovec iovs_[kMessages] = {};
  SocketAddress names_[kMessages] = {};
  alignas(struct cmsghdr) char controls_[kMessages][CMSG_SPACE(sizeof(int))] = {};

  // The received messages not yet split: [message_, received_), with offset_/pending_ in message_.
  uint32_t received_ = 0;
  uint32_t message_ = 0;
  uint32_t offset_ = 0;
  uint32_t pending_ = 0;
  uint32_t segment_ = 0;
};

}  // namespace tunnel_native
