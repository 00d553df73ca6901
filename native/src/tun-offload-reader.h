// Reads a TUN device opened with IFF_VNET_HDR and TCP segmentation offload (TUNSETOFFLOAD): each
// read() is a virtio-net header and a packet of up to 64 KB. A TCP super-packet (GSO TCPV4/TCPV6)
// is split here into segments of gso_size, each with its own IP and TCP header and checksums, as a
// NIC would; a packet whose checksum the kernel left partial (NEEDS_CSUM) gets it finished. The
// caller sees exactly the packets the kernel would have sent without offloads, one per slot, for
// one read() per burst instead of one per packet. A super-packet that does not fit the slots left
// is finished by the next Read.
#pragma once

#include <stdint.h>

#include <memory>

#include "packet-slots.h"

namespace tunnel_native {

// What the offloads did, for the endpoint's counters.
struct TunOffloadCounters {
  double super_packets = 0;     // TCP super-packets read
  double segments = 0;          // segments they were split into
  double checksums = 0;         // partial checksums finished on plain packets
  double malformed = 0;         // reads dropped: a header or packet the offload rules cannot take
  double coalesced_writes = 0;  // writes that carried several TCP segments as one super-packet
  double coalesced_segments = 0;

  void Add(const TunOffloadCounters& other) {
    super_packets += other.super_packets;
    segments += other.segments;
    checksums += other.checksums;
    malformed += other.malformed;
    coalesced_writes += other.coalesced_writes;
    coalesced_segments += other.coalesced_segments;
  }
};

class TunOffloadReader {
 public:
  TunOffloadReader();

  // Fills up to slots.capacity slots at `headroom`; returns how many, 0 when nothing waits, or a
  // negative errno (only when nothing was read). A packet or segment larger than a slot's room is
  // dropped and counted in `truncated`.
  int Read(int fd, const PacketSlots& slots, uint32_t headroom, double* truncated, TunOffloadCounters* counters);

 private:
  // Takes the packet just read (`length` bytes after the header). Returns 1 when it is a plain
  // packet ready at packet(), 2 when it is a super-packet now pending, 0 when it was dropped.
  int Take(uint32_t length, TunOffloadCounters* counters);
  // Writes the next segment of the pending super-packet at `out`; returns its length.
  uint32_t NextSegment(uint8_t* out);
  uint32_t NextSegmentLength() const;
  uint8_t* packet() { return buffer_.get() + kHeaderBytes; }

  static constexpr uint32_t kHeaderBytes = 10;  // sizeof(struct virtio_net_hdr)
  // A TUN's GSO packets stay within 64 KB (its gso_max_size); a read that fills the buffer was cut.
  static constexpr size_t kBufferBytes = kHeaderBytes + 65536 + 256;

  // Where each read() lands, a packet of up to 64 KB: held only while a read is under way or a
  // super-packet is half split, so thousands of quiet TUNs hold none (it is not zeroed either).
  std::unique_ptr<uint8_t[]> buffer_;
  // The super-packet being split: its length, where its payload starts (IP + TCP headers), the
  // segment size, and the payload offset of the next segment (== length - header when done).
  uint32_t length_ = 0;
  uint32_t ip_header_ = 0;
  uint32_t header_ = 0;
  uint32_t gso_size_ = 0;
  uint32_t next_ = 0;
  uint32_t index_ = 0;
  bool ipv6_ = false;
  bool pending_ = false;
};

}  // namespace tunnel_native
