#include "udp-gro-reader.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>
#include <sys/socket.h>

#include <algorithm>

namespace tunnel_native {

namespace {

// The most one coalesced receive can carry (an IP packet's worth).
constexpr size_t kBufferBytes = 65536;

}  // namespace

UdpGroReader::UdpGroReader() : buffer_(kBufferBytes) {}

int UdpGroReader::Read(int fd, const PacketSlots& slots, uint32_t headroom, double* truncated) {
  uint32_t room = slots.slot_size - headroom;
  uint32_t count = 0;
  while (count < slots.capacity) {
    if (pending_ == 0) {
      int got = Receive(fd, truncated);
      if (got < 0) return count > 0 ? static_cast<int>(count) : got;
      if (got == 0) break;
      continue;
    }
    uint32_t length = std::min(segment_, pending_);
    if (length > room) {
      (*truncated)++;
    } else {
      memcpy(slots.Slot(count) + headroom, buffer_.data() + offset_, length);
      slots.offsets[count] = headroom;
      slots.lengths[count] = length;
      slots.addrs[count] = addr_;
      slots.ports[count] = port_;
      count++;
    }
    offset_ += length;
    pending_ -= length;
  }
  return static_cast<int>(count);
}

int UdpGroReader::Receive(int fd, double* truncated) {
  struct sockaddr_in from = {};
  struct iovec iov = {buffer_.data(), buffer_.size()};
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  struct msghdr message = {};
  message.msg_name = &from;
  message.msg_namelen = sizeof(from);
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof(control);
  ssize_t received;
  do {
    received = recvmsg(fd, &message, MSG_DONTWAIT);
  } while (received < 0 && errno == EINTR);
  if (received < 0) return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
  if (message.msg_flags & MSG_TRUNC) {
    (*truncated)++;
    pending_ = 0;
    return 1;
  }
  // Without the control message the receive is one plain datagram.
  uint32_t segment = static_cast<uint32_t>(received);
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr; c = CMSG_NXTHDR(&message, c)) {
    if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
      int size = 0;
      memcpy(&size, CMSG_DATA(c), sizeof(size));
      if (size > 0) segment = static_cast<uint32_t>(size);
    }
  }
  offset_ = 0;
  pending_ = static_cast<uint32_t>(received);
  segment_ = segment;
  addr_ = ntohl(from.sin_addr.s_addr);
  port_ = ntohs(from.sin_port);
  return 1;
}

}  // namespace tunnel_native
