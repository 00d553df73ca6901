// tunnel_native: system calls for the userspace datapath (TUN devices, raw IPv4 sockets, UDP
// sockets, batched I/O, uv_poll readiness), fast routes that copy header bytes the TypeScript
// codecs built, and rtnetlink batches for interface configuration. No protocol is decoded here
// beyond the IP version and header length, except ESP (esp-*.cc), whose crypto runs here, with
// node's own OpenSSL, so packets never need JS.
#include <napi.h>

#include "addon-data.h"
#include "batch-view.h"
#include "descriptor-close-batch.h"
#include "esp-binding.h"
#include "fast-route-counters.h"
#include "fast-route.h"
#include "open-descriptors.h"
#include "packet-endpoint.h"
#include "rtnetlink-binding.h"
#include "tun-open-batch.h"

namespace tunnel_native {

namespace {

// bindBatch(data, offsets, lengths, addrs, ports, capacity, slotSize) -> tagged BatchView
Napi::Value BindBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AddonData* data = env.GetInstanceData<AddonData>();
  std::vector<napi_value> args(info.Length());
  for (size_t i = 0; i < info.Length(); i++) args[i] = info[i];
  Napi::Object view = data->batch_view_constructor.New(args);
  if (env.IsExceptionPending()) return env.Undefined();
  napi_type_tag_object(env, view, &kBatchViewTag);
  return view;
}

// createFastRoute() -> an unconfigured FastRoute
Napi::Value CreateFastRoute(const Napi::CallbackInfo& info) {
  return info.Env().GetInstanceData<AddonData>()->fast_route_constructor.New({});
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  data->endpoint_constructor = Napi::Persistent(PacketEndpoint::Define(env));
  data->batch_view_constructor = Napi::Persistent(BatchView::Define(env));
  data->fast_route_constructor = Napi::Persistent(FastRoute::Define(env));
  data->wakeups = ForwardedWakeups::Create(env);
  env.SetInstanceData(data);

  exports.Set("bindBatch", Napi::Function::New<BindBatch>(env, "bindBatch"));
  exports.Set("openTun", Napi::Function::New<OpenTun>(env, "openTun"));
  exports.Set("openTuns", Napi::Function::New<OpenTuns>(env, "openTuns"));
  exports.Set("closeEndpoints", Napi::Function::New<CloseEndpoints>(env, "closeEndpoints"));
  exports.Set("fastRouteCounters", Napi::Function::New<FastRouteCounters>(env, "fastRouteCounters"));
  exports.Set("destinationTallyCount", Napi::Function::New<DestinationTallyCount>(env, "destinationTallyCount"));
  exports.Set("openRawSocket", Napi::Function::New<OpenRawSocket>(env, "openRawSocket"));
  exports.Set("createFastRoute", Napi::Function::New<CreateFastRoute>(env, "createFastRoute"));
  exports.Set("openUdpSocket", Napi::Function::New<OpenUdpSocket>(env, "openUdpSocket"));
  exports.Set("pathMtus", Napi::Function::New<PathMtus>(env, "pathMtus"));
  RegisterEsp(env, exports);
  exports.Set("rtnetlinkBatch", Napi::Function::New<RtnetlinkBatch>(env, "rtnetlinkBatch"));
  exports.Set("rtnetlinkListLinks", Napi::Function::New<RtnetlinkListLinks>(env, "rtnetlinkListLinks"));
  return exports;
}

}  // namespace tunnel_native

static Napi::Object InitTunnelNative(Napi::Env env, Napi::Object exports) {
  return tunnel_native::Init(env, exports);
}

NODE_API_MODULE(tunnel_native, InitTunnelNative)
