// The virtio-net header a TUN opened with IFF_VNET_HDR puts in front of every packet (Linux UAPI
// <linux/virtio_net.h>, struct virtio_net_hdr). Restated here because that header cannot be
// included from C++ (a member is named `class`). Fields are in native byte order: the kernel
// uses the legacy virtio layout unless TUNSETVNETLE/BE asks otherwise.
#pragma once

#include <stdint.h>

namespace tunnel_native {

struct VirtioNetHeader {
  uint8_t flags;
  uint8_t gso_type;
  uint16_t hdr_len;
  uint16_t gso_size;
  uint16_t csum_start;
  uint16_t csum_offset;
};
static_assert(sizeof(VirtioNetHeader) == 10, "struct virtio_net_hdr is 10 bytes");

constexpr uint8_t kVirtioNeedsChecksum = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM
constexpr uint8_t kVirtioGsoNone = 0;
constexpr uint8_t kVirtioGsoTcpv4 = 1;
constexpr uint8_t kVirtioGsoTcpv6 = 4;
constexpr uint8_t kVirtioGsoEcn = 0x80;

}  // namespace tunnel_native
