// Every fast route's counters in one call: a hub reads them for all its tunnels on each keepalive
// tick, and one call (one ForwardingLock) for all beats one per route.
#pragma once

#include <napi.h>

namespace tunnel_native {

// Values per route in the output, in FastRoute::counters() order.
constexpr uint32_t kFastRouteCounterValues = 9;

// fastRouteCounters(routes: FastRoute[], out: Float64Array) -> undefined: route i's counters in
// out[9 * i, 9 * i + 9); a closed route reads all zeros and -1 for the time since it received.
Napi::Value FastRouteCounters(const Napi::CallbackInfo& info);

// destinationTallyCount() -> packets every route's destination tally counted so far (a number
// that only grows): equal to the last read, no route has anything to drain.
Napi::Value DestinationTallyCount(const Napi::CallbackInfo& info);

}  // namespace tunnel_native
