#include "fast-route-counters.h"

#include <vector>

#include "addon-data.h"
#include "fast-route.h"
#include "forwarding-thread.h"
#include "system-error.h"

namespace tunnel_native {

Napi::Value FastRouteCounters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsArray() || !info[1].IsTypedArray() ||
      info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    ThrowArgumentError(env, "fastRouteCounters: expected routes and a Float64Array");
    return env.Undefined();
  }
  auto array = info[0].As<Napi::Array>();
  auto out = info[1].As<Napi::Float64Array>();
  if (out.ElementLength() < static_cast<size_t>(array.Length()) * kFastRouteCounterValues) {
    ThrowArgumentError(env, "fastRouteCounters: the output holds fewer than 9 values per route");
    return env.Undefined();
  }
  Napi::Function constructor = env.GetInstanceData<AddonData>()->fast_route_constructor.Value();
  std::vector<FastRoute*> routes(array.Length());
  for (uint32_t i = 0; i < array.Length(); i++) {
    Napi::Value item = array.Get(i);
    if (!item.IsObject() || !item.As<Napi::Object>().InstanceOf(constructor)) {
      ThrowArgumentError(env, "fastRouteCounters: every route must be a FastRoute");
      return env.Undefined();
    }
    routes[i] = FastRoute::Unwrap(item.As<Napi::Object>());
  }
  double* values = out.Data();
  ForwardingLock lock;
  for (size_t i = 0; i < routes.size(); i++) routes[i]->ReadCounters(values + i * kFastRouteCounterValues);
  return env.Undefined();
}

Napi::Value DestinationTallyCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(tallied_packets.load(std::memory_order_acquire)));
}

}  // namespace tunnel_native
