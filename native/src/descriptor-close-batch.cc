#include "descriptor-close-batch.h"

#include <unistd.h>

#include <utility>
#include <vector>

#include "addon-data.h"
#include "packet-endpoint.h"
#include "system-error.h"

namespace tunnel_native {

namespace {

class CloseWorker : public Napi::AsyncWorker {
 public:
  CloseWorker(Napi::Env env, std::vector<int> fds)
      : Napi::AsyncWorker(env, "tunnel_native:close-endpoints"), deferred_(Napi::Promise::Deferred::New(env)), fds_(std::move(fds)) {}

  ~CloseWorker() override {
    // The environment went away before the pool got to them: still closed, here.
    for (int fd : fds_) close(fd);
  }

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    for (int fd : fds_) close(fd);
    fds_.clear();
  }

  void OnOK() override { deferred_.Resolve(Env().Undefined()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::vector<int> fds_;
};

}  // namespace

Napi::Value CloseEndpoints(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) {
    ThrowArgumentError(env, "closeEndpoints: expected an array of endpoints");
    return env.Undefined();
  }
  auto array = info[0].As<Napi::Array>();
  std::vector<PacketEndpoint*> endpoints;
  for (uint32_t i = 0; i < array.Length(); i++) {
    Napi::Value item = array.Get(i);
    bool tagged = false;
    if (item.IsObject()) napi_check_object_type_tag(env, item, &kEndpointTag, &tagged);
    if (!tagged) {
      ThrowArgumentError(env, "closeEndpoints: every item must be an endpoint");
      return env.Undefined();
    }
    endpoints.push_back(PacketEndpoint::Unwrap(item.As<Napi::Object>()));
  }
  std::vector<int> fds;
  for (PacketEndpoint* endpoint : endpoints) {
    for (int fd : endpoint->CloseLater()) fds.push_back(fd);
  }
  auto* worker = new CloseWorker(env, std::move(fds));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace tunnel_native
