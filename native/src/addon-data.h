// Per-environment state: class constructors the addon creates instances of from C++, and what
// every endpoint of the environment shares.
#pragma once

#include <napi.h>

#include <vector>

#include "forwarded-wakeups.h"
#include "tun-packet-writer.h"
#include "tun-write-ring.h"

namespace tunnel_native {

struct AddonData {
  Napi::FunctionReference endpoint_constructor;
  Napi::FunctionReference batch_view_constructor;
  Napi::FunctionReference fast_route_constructor;
  // JS's writes into TUN devices, whichever device: JS is one thread, so one writer and one
  // io_uring ring (one descriptor, made on first use) serve them all.
  TunPacketWriter js_tun_writer;
  TunWriteRing js_tun_ring;
  std::vector<int32_t> js_write_results;
  // How forwarding threads wake JS for an endpoint.
  ForwardedWakeups* wakeups = nullptr;
};

// Marks objects made by the BatchView constructor so no other wrapped object is mistaken for one.
inline constexpr napi_type_tag kBatchViewTag = {0x7c3a1f0e5b2d4a91ULL, 0x9e84c6d2b1f07a35ULL};

}  // namespace tunnel_native

namespace tunnel_native {

// Marks PacketEndpoint objects, so a fast route is only ever given a real endpoint.
inline constexpr napi_type_tag kEndpointTag = {0x41d9b2c7e05f3a68ULL, 0xb37e2a90c4d1f856ULL};

}  // namespace tunnel_native
