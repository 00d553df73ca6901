// How forwarding threads wake JS for the endpoints whose packets (or errors) JS must take: one
// uv_async per environment and a list of the endpoints posted, instead of one uv_async per
// endpoint. libuv looks at every async handle of the loop on each wake-up of any of them, so a
// hub with a handle per TUN paid for thousands of them on every wake-up.
#pragma once

#include <napi.h>
#include <uv.h>

#include <mutex>
#include <vector>

namespace tunnel_native {

class PacketEndpoint;

class ForwardedWakeups {
 public:
  // The environment's one instance, made with the addon (never freed: endpoints may post to it
  // until the environment's last cleanup hook has run).
  static ForwardedWakeups* Create(Napi::Env env);

  // Any thread: `endpoint` has something for JS; its readable callback runs soon on the JS thread.
  void Post(PacketEndpoint* endpoint);
  // JS thread: `endpoint` is going away (after no thread can post it any more): forget it.
  void Forget(PacketEndpoint* endpoint);
  // JS thread: while any endpoint holds, the loop stays alive (as a referenced watch keeps it).
  void Hold(bool hold);

 private:
  ForwardedWakeups() = default;
  static void OnAsync(uv_async_t* handle);
  static void CloseOnExit(void* arg);

  uv_async_t* async_ = nullptr;
  std::mutex mutex_;
  bool closed_ = false;
  std::vector<PacketEndpoint*> posted_;
  // The JS thread's copy while it calls back; a forgotten endpoint's entry is nulled.
  std::vector<PacketEndpoint*> draining_;
  int holds_ = 0;
};

}  // namespace tunnel_native
