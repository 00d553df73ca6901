#include "udp-gro-reader.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/udp.h>
#include <string.h>

#include <algorithm>

namespace tunnel_native {

namespace {

// The most one coalesced message can carry (an IP packet's worth).
constexpr size_t kMessageBytes = 65536;

}  // namespace

UdpGroReader::UdpGroReader() : buffer_(kMessageBytes * kMessages) {}

int UdpGroReader::Read(int fd, const PacketSlots& slots, uint32_t headroom, double* truncated) {
  uint32_t room = slots.slot_size - headroom;
  uint32_t count = 0;
  while (count < slots.capacity) {
    if (pending_ == 0) {
      if (message_ + 1 < received_) {
        Prepare(++message_);
      } else {
        int got = Receive(fd);
        if (got < 0) return count > 0 ? static_cast<int>(count) : got;
        if (got == 0) break;
      }
      if (messages_[message_].msg_hdr.msg_flags & MSG_TRUNC) {
        (*truncated)++;
        pending_ = 0;
      }
      continue;
    }
    uint32_t length = std::min(segment_, pending_);
    const uint8_t* datagram = static_cast<const uint8_t*>(iovs_[message_].iov_base) + offset_;
    if (length > room) {
      (*truncated)++;
    } else {
      memcpy(slots.Slot(count) + headroom, datagram, length);
      slots.offsets[count] = headroom;
      slots.lengths[count] = length;
      SetSlotSource(slots, count, names_[message_]);
      count++;
    }
    offset_ += length;
    pending_ -= length;
  }
  return static_cast<int>(count);
}

int UdpGroReader::Receive(int fd) {
  for (uint32_t i = 0; i < kMessages; i++) {
    iovs_[i].iov_base = buffer_.data() + i * kMessageBytes;
    iovs_[i].iov_len = kMessageBytes;
    struct msghdr& header = messages_[i].msg_hdr;
    header.msg_name = &names_[i];
    header.msg_namelen = sizeof(names_[i]);
    header.msg_iov = &iovs_[i];
    header.msg_iovlen = 1;
    header.msg_control = controls_[i];
    header.msg_controllen = sizeof(controls_[i]);
    header.msg_flags = 0;
  }
  int received;
  do {
    received = recvmmsg(fd, messages_, kMessages, MSG_DONTWAIT, nullptr);
  } while (received < 0 && errno == EINTR);
  received_ = 0;
  message_ = 0;
  pending_ = 0;
  if (received < 0) return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
  received_ = static_cast<uint32_t>(received);
  if (received_ > 0) Prepare(0);
  return received;
}

void UdpGroReader::Prepare(uint32_t i) {
  struct msghdr& header = messages_[i].msg_hdr;
  uint32_t length = messages_[i].msg_len;
  // Without the control message the message is one plain datagram.
  uint32_t segment = length;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&header); c != nullptr; c = CMSG_NXTHDR(&header, c)) {
    if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
      int size = 0;
      memcpy(&size, CMSG_DATA(c), sizeof(size));
      if (size > 0) segment = static_cast<uint32_t>(size);
    }
  }
  offset_ = 0;
  pending_ = length;
  segment_ = segment;
}

}  // namespace tunnel_native
