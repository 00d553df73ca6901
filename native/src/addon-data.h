// Per-environment state: class constructors the addon creates instances of from C++.
#pragma once

#include <napi.h>

namespace tunnel_native {

struct AddonData {
  Napi::FunctionReference endpoint_constructor;
  Napi::FunctionReference batch_view_constructor;
};

// Marks objects made by the BatchView constructor so no other wrapped object is mistaken for one.
inline constexpr napi_type_tag kBatchViewTag = {0x7c3a1f0e5b2d4a91ULL, 0x9e84c6d2b1f07a35ULL};

}  // namespace tunnel_native
