// Per-environment state: class constructors the addon creates instances of from C++.
#pragma once

#include <napi.h>

namespace tunnel_native {

struct AddonData {
  Napi::FunctionReference endpoint_constructor;
  Napi::FunctionReference batch_view_constructor;
  Napi::FunctionReference fast_route_constructor;
};

// Marks objects made by the BatchView constructor so no other wrapped object is mistaken for one.
inline constexpr napi_type_tag kBatchViewTag = {0x7c3a1f0e5b2d4a91ULL, 0x9e84c6d2b1f07a35ULL};

}  // namespace tunnel_native

namespace tunnel_native {

// Marks PacketEndpoint objects, so a fast route is only ever given a real endpoint.
inline constexpr napi_type_tag kEndpointTag = {0x41d9b2c7e05f3a68ULL, 0xb37e2a90c4d1f856ULL};

}  // namespace tunnel_native
