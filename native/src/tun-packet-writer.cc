#include "tun-packet-writer.h"

#include <errno.h>
#include <string.h>
#include <sys/uio.h>

#include "inet-checksum.h"
#include "virtio-net-header.h"

namespace tunnel_native {

namespace {

// Room for two full super-packets: a run rarely holds more, and a full arena only splits the run.
constexpr size_t kArenaBytes = 2 * (sizeof(VirtioNetHeader) + 65535) + 4096;
constexpr uint32_t kMaxMerged = 65535;
constexpr uint8_t kProtocolTcp = 6;
constexpr uint8_t kTcpPsh = 0x08;
constexpr uint8_t kTcpAck = 0x10;

// A written header that asks nothing of the kernel: the packet is complete as it is.
const VirtioNetHeader kPlainHeader = {};

uint32_t Load32(const uint8_t* at) {
  return static_cast<uint32_t>(at[0]) << 24 | static_cast<uint32_t>(at[1]) << 16 | static_cast<uint32_t>(at[2]) << 8 | at[3];
}
void Store16(uint8_t* at, uint32_t value) {
  at[0] = static_cast<uint8_t>(value >> 8);
  at[1] = static_cast<uint8_t>(value);
}

// A TCP segment that may be merged: IPv4 without options or fragments, or IPv6 with TCP as the
// next header, whose lengths agree with the packet's, carrying data with only ACK (and PSH) set.
struct Segment {
  bool ipv6;
  uint32_t ip_header;
  uint32_t header;  // IP + TCP
  uint32_t payload;
  uint32_t seq;
  uint8_t flags;
};

bool ParseSegment(const uint8_t* p, uint32_t length, Segment* out) {
  if (length < 40) return false;
  uint8_t version = p[0] >> 4;
  if (version == 4) {
    if (p[0] != 0x45 || p[9] != kProtocolTcp || (static_cast<uint32_t>(p[2]) << 8 | p[3]) != length) return false;
    if ((p[6] & 0x3f) != 0 || p[7] != 0) return false;  // MF or a fragment offset
    out->ipv6 = false;
    out->ip_header = 20;
  } else if (version == 6) {
    if (length < 60 || p[6] != kProtocolTcp || (static_cast<uint32_t>(p[4]) << 8 | p[5]) + 40 != length) return false;
    out->ipv6 = true;
    out->ip_header = 40;
  } else {
    return false;
  }
  const uint8_t* tcp = p + out->ip_header;
  uint32_t tcp_header = (tcp[12] >> 4) * 4u;
  out->header = out->ip_header + tcp_header;
  if (tcp_header < 20 || out->header >= length) return false;
  out->flags = tcp[13];
  if ((out->flags & ~kTcpPsh) != kTcpAck) return false;
  out->payload = length - out->header;
  out->seq = Load32(tcp + 4);
  return true;
}

// Same flow and the same header fields GRO insists on: addresses, TOS/traffic class, TTL/hop
// limit, DF, ports, acknowledgment and TCP options (the window may move; the last one is kept).
bool SameFlow(const uint8_t* a, const Segment& sa, const uint8_t* b, const Segment& sb) {
  if (sa.ipv6 != sb.ipv6 || sa.header != sb.header) return false;
  if (sa.ipv6) {
    if (memcmp(a, b, 4) != 0 || a[7] != b[7] || memcmp(a + 8, b + 8, 32) != 0) return false;
  } else {
    if (a[1] != b[1] || (a[6] & 0x40) != (b[6] & 0x40) || a[8] != b[8] || memcmp(a + 12, b + 12, 8) != 0) return false;
  }
  const uint8_t* ta = a + sa.ip_header;
  const uint8_t* tb = b + sb.ip_header;
  return memcmp(ta, tb, 4) == 0 && memcmp(ta + 8, tb + 8, 4) == 0 && ta[12] == tb[12] &&
         memcmp(ta + 20, tb + 20, sa.header - sa.ip_header - 20) == 0;
}

bool ChecksumVerifies(const uint8_t* p, const Segment& s, uint32_t length) {
  uint32_t tcp_length = length - s.ip_header;
  uint64_t sum = ChecksumAdd(p + s.ip_header, tcp_length, PseudoHeaderSum(p, s.ipv6, kProtocolTcp, tcp_length));
  return ChecksumFold(sum) == 0xffff;
}

}  // namespace

TunPacketWriter::TunPacketWriter() = default;

void TunPacketWriter::Write(int fd, bool vnet, TunWriteRing& ring, const PacketSlots& run, uint32_t count,
                            int32_t* results, TunOffloadCounters* counters) {
  uint32_t i = 0;
  while (i < count) {
    arena_used_ = 0;
    uint32_t units = 0;
    while (i < count && units < TunWriteRing::kRunLength) {
      uint32_t end = vnet ? MergeEnd(run, i, count) : i + 1;
      TunWriteUnit& unit = units_[units];
      if (end - i >= 2 && !BuildMerged(run, i, end, &unit)) {
        if (units > 0) break;  // the arena is full: write what is built, then go on
        end = i + 1;
      }
      if (end - i == 1) {
        int pieces = 0;
        if (vnet) unit.iov[pieces++] = {const_cast<VirtioNetHeader*>(&kPlainHeader), sizeof(kPlainHeader)};
        unit.iov[pieces++] = {run.Packet(i), run.lengths[i]};
        unit.iov_count = pieces;
      } else {
        counters->coalesced_writes++;
        counters->coalesced_segments += end - i;
      }
      unit_first_[units] = i;
      unit_count_[units] = end - i;
      units++;
      i = end;
    }
    Submit(fd, ring, units);
    for (uint32_t u = 0; u < units; u++) {
      for (uint32_t k = unit_first_[u]; k < unit_first_[u] + unit_count_[u]; k++) {
        results[k] = unit_results_[u] >= 0 ? static_cast<int32_t>(run.lengths[k]) : unit_results_[u];
      }
    }
  }
}

uint32_t TunPacketWriter::MergeEnd(const PacketSlots& run, uint32_t first, uint32_t count) {
  Segment head;
  const uint8_t* first_packet = run.Packet(first);
  if (first + 1 >= count || !ParseSegment(first_packet, run.lengths[first], &head)) return first + 1;
  Segment previous = head;
  uint32_t total = run.lengths[first];
  bool head_verified = false;
  uint32_t end = first + 1;
  for (; end < count; end++) {
    // A pushed or short segment ends a super-packet: every segment but the last is gso_size long.
    if ((previous.flags & kTcpPsh) != 0 || previous.payload != head.payload) break;
    const uint8_t* packet = run.Packet(end);
    uint32_t length = run.lengths[end];
    Segment next;
    if (!ParseSegment(packet, length, &next) || !SameFlow(first_packet, head, packet, next)) break;
    if (next.seq != previous.seq + previous.payload || next.payload > head.payload || total + next.payload > kMaxMerged) break;
    if (!head_verified) {
      if (!ChecksumVerifies(first_packet, head, run.lengths[first])) return first + 1;
      head_verified = true;
    }
    if (!ChecksumVerifies(packet, next, length)) break;
    total += next.payload;
    previous = next;
  }
  return end;
}

bool TunPacketWriter::BuildMerged(const PacketSlots& run, uint32_t first, uint32_t end, TunWriteUnit* unit) {
  Segment head;
  const uint8_t* first_packet = run.Packet(first);
  ParseSegment(first_packet, run.lengths[first], &head);
  uint32_t total = head.header;
  for (uint32_t k = first; k < end; k++) total += run.lengths[k] - head.header;
  size_t need = sizeof(VirtioNetHeader) + total;
  // Only a TUN with offloads merges, so only its writer pays for the arena.
  if (arena_.empty()) arena_.resize(kArenaBytes);
  if (arena_used_ + need > arena_.size()) return false;
  uint8_t* out = arena_.data() + arena_used_;
  arena_used_ += need;

  VirtioNetHeader vnet = {};
  vnet.flags = kVirtioNeedsChecksum;
  vnet.gso_type = head.ipv6 ? kVirtioGsoTcpv6 : kVirtioGsoTcpv4;
  vnet.hdr_len = static_cast<uint16_t>(head.header);
  vnet.gso_size = static_cast<uint16_t>(head.payload);
  vnet.csum_start = static_cast<uint16_t>(head.ip_header);
  vnet.csum_offset = 16;
  memcpy(out, &vnet, sizeof(vnet));
  uint8_t* ip = out + sizeof(vnet);
  memcpy(ip, first_packet, head.header);
  uint8_t* cursor = ip + head.header;
  for (uint32_t k = first; k < end; k++) {
    uint32_t payload = run.lengths[k] - head.header;
    memcpy(cursor, run.Packet(k) + head.header, payload);
    cursor += payload;
  }
  const uint8_t* last = run.Packet(end - 1);
  uint8_t* tcp = ip + head.ip_header;
  tcp[13] |= last[head.ip_header + 13] & kTcpPsh;
  memcpy(tcp + 14, last + head.ip_header + 14, 2);  // the newest window
  if (head.ipv6) {
    Store16(ip + 4, total - 40);
  } else {
    Store16(ip + 2, total);
    SetIpv4HeaderChecksum(ip, head.ip_header);
  }
  // Partial: the pseudo-header sum alone, which the kernel completes or trusts (NEEDS_CSUM).
  uint32_t tcp_length = total - head.ip_header;
  StoreChecksum(tcp + 16, ChecksumFold(PseudoHeaderSum(ip, head.ipv6, kProtocolTcp, tcp_length)));
  unit->iov[0] = {out, need};
  unit->iov_count = 1;
  return true;
}

void TunPacketWriter::Submit(int fd, TunWriteRing& ring, uint32_t units) {
  for (uint32_t u = 0; u < units; u++) unit_results_[u] = -ECANCELED;
  if (units >= 2 && ring.Ready()) {
    ring.WriteUnits(fd, units_, units);
    for (uint32_t u = 0; u < units; u++) unit_results_[u] = ring.results()[u];
  }
  // Whatever the ring did not get to (a single write, or the ring gave itself up) goes by writev.
  for (uint32_t u = 0; u < units; u++) {
    if (unit_results_[u] != -ECANCELED) continue;
    ssize_t written;
    do {
      written = writev(fd, units_[u].iov, units_[u].iov_count);
    } while (written < 0 && errno == EINTR);
    unit_results_[u] = written < 0 ? -errno : static_cast<int32_t>(written);
  }
}

}  // namespace tunnel_native
