#include "tun-offload-reader.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "inet-checksum.h"
#include "virtio-net-header.h"

namespace tunnel_native {

namespace {

constexpr uint8_t kProtocolTcp = 6;
constexpr uint8_t kTcpFin = 0x01;
constexpr uint8_t kTcpPsh = 0x08;
constexpr uint8_t kTcpCwr = 0x80;

uint16_t Load16(const uint8_t* at) { return static_cast<uint16_t>(at[0] << 8 | at[1]); }
uint32_t Load32(const uint8_t* at) {
  return static_cast<uint32_t>(at[0]) << 24 | static_cast<uint32_t>(at[1]) << 16 | static_cast<uint32_t>(at[2]) << 8 | at[3];
}
void Store16(uint8_t* at, uint32_t value) {
  at[0] = static_cast<uint8_t>(value >> 8);
  at[1] = static_cast<uint8_t>(value);
}
void Store32(uint8_t* at, uint32_t value) {
  at[0] = static_cast<uint8_t>(value >> 24);
  at[1] = static_cast<uint8_t>(value >> 16);
  at[2] = static_cast<uint8_t>(value >> 8);
  at[3] = static_cast<uint8_t>(value);
}

}  // namespace

TunOffloadReader::TunOffloadReader() = default;

int TunOffloadReader::Read(int fd, const PacketSlots& slots, uint32_t headroom, double* truncated,
                           TunOffloadCounters* counters) {
  uint32_t room = slots.slot_size - headroom;
  uint32_t count = 0;
  if (!buffer_) buffer_.reset(new uint8_t[kBufferBytes]);
  while (count < slots.capacity) {
    if (pending_) {
      uint32_t length = NextSegmentLength();
      if (length > room) {
        (*truncated)++;
        next_ += gso_size_;
        index_++;
      } else {
        NextSegment(slots.Slot(count) + headroom);
        slots.offsets[count] = headroom;
        slots.lengths[count] = length;
        count++;
        counters->segments++;
      }
      if (next_ >= length_ - header_) pending_ = false;
      continue;
    }
    ssize_t n = read(fd, buffer_.get(), kBufferBytes);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK || count > 0) break;
      int err = errno;
      if (!pending_) buffer_.reset();
      return -err;
    }
    if (static_cast<size_t>(n) < kHeaderBytes || static_cast<size_t>(n) == kBufferBytes) {
      counters->malformed++;
      continue;
    }
    uint32_t length = static_cast<uint32_t>(n) - kHeaderBytes;
    int taken = Take(length, counters);
    if (taken != 1) continue;
    if (length > room) {
      (*truncated)++;
      continue;
    }
    memcpy(slots.Slot(count) + headroom, packet(), length);
    slots.offsets[count] = headroom;
    slots.lengths[count] = length;
    count++;
  }
  // Nothing half split: the buffer goes back to the allocator (the next read of any TUN on this
  // thread takes it again), so memory follows the readers at work, not the TUNs that exist.
  if (!pending_) buffer_.reset();
  return static_cast<int>(count);
}

int TunOffloadReader::Take(uint32_t length, TunOffloadCounters* counters) {
  VirtioNetHeader vnet;
  memcpy(&vnet, buffer_.get(), sizeof(vnet));
  uint8_t* ip = packet();
  uint8_t gso_type = vnet.gso_type & static_cast<uint8_t>(~kVirtioGsoEcn);
  if (gso_type == kVirtioGsoNone) {
    if (vnet.flags & kVirtioNeedsChecksum) {
      // The transport checksum holds only the pseudo-header sum: add the rest, as a NIC would.
      uint32_t start = vnet.csum_start;
      uint32_t field = start + vnet.csum_offset;
      if (start >= length || field + 2 > length) {
        counters->malformed++;
        return 0;
      }
      uint16_t folded = static_cast<uint16_t>(~ChecksumFold(ChecksumAdd(ip + start, length - start, 0)));
      // 0 means "no checksum" to UDP; the kernel sends 0xffff instead (CSUM_MANGLED_0), as here.
      StoreChecksum(ip + field, folded == 0 ? 0xffff : folded);
      counters->checksums++;
    }
    return 1;
  }
  bool ipv6 = gso_type == kVirtioGsoTcpv6;
  if (!ipv6 && gso_type != kVirtioGsoTcpv4) {
    counters->malformed++;  // UDP segmentation was not offered (TUN_F_USO*), so it never comes
    return 0;
  }
  uint32_t ip_header = 0;
  if (!ipv6 && length >= 20 && (ip[0] >> 4) == 4 && ip[9] == kProtocolTcp) ip_header = (ip[0] & 0x0f) * 4u;
  if (ipv6 && length >= 40 && (ip[0] >> 4) == 6 && ip[6] == kProtocolTcp) ip_header = 40;
  uint32_t header = ip_header + 20 <= length ? ip_header + (ip[ip_header + 12] >> 4) * 4u : 0;
  if (ip_header < 20 || header < ip_header + 20 || header >= length || vnet.gso_size == 0) {
    counters->malformed++;
    return 0;
  }
  length_ = length;
  ip_header_ = ip_header;
  header_ = header;
  gso_size_ = vnet.gso_size;
  next_ = 0;
  index_ = 0;
  ipv6_ = ipv6;
  pending_ = true;
  counters->super_packets++;
  return 2;
}

uint32_t TunOffloadReader::NextSegmentLength() const {
  uint32_t left = length_ - header_ - next_;
  return header_ + (left < gso_size_ ? left : gso_size_);
}

uint32_t TunOffloadReader::NextSegment(uint8_t* out) {
  const uint8_t* super = buffer_.get() + kHeaderBytes;
  uint32_t payload = NextSegmentLength() - header_;
  bool last = next_ + payload >= length_ - header_;
  memcpy(out, super, header_);
  memcpy(out + header_, super + header_ + next_, payload);
  uint32_t total = header_ + payload;
  if (ipv6_) {
    Store16(out + 4, total - 40);
  } else {
    Store16(out + 2, total);
    // Each segment its own identification, counting up from the super-packet's, as Linux's GSO does.
    Store16(out + 4, Load16(super + 4) + index_);
    SetIpv4HeaderChecksum(out, ip_header_);
  }
  uint8_t* tcp = out + ip_header_;
  Store32(tcp + 4, Load32(super + ip_header_ + 4) + next_);
  uint8_t flags = tcp[13];
  if (!last) flags &= static_cast<uint8_t>(~(kTcpFin | kTcpPsh));
  if (index_ > 0) flags &= static_cast<uint8_t>(~kTcpCwr);
  tcp[13] = flags;
  tcp[16] = 0;
  tcp[17] = 0;
  uint32_t tcp_length = total - ip_header_;
  uint64_t sum = ChecksumAdd(tcp, tcp_length, PseudoHeaderSum(out, ipv6_, kProtocolTcp, tcp_length));
  StoreChecksum(tcp + 16, static_cast<uint16_t>(~ChecksumFold(sum)));
  next_ += payload;
  index_++;
  return total;
}

}  // namespace tunnel_native
