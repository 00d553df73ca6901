#include "rtnetlink-binding.h"

#include <string.h>
#include <sys/socket.h>

#include <string>
#include <utility>
#include <vector>

#include "rtnetlink-batch.h"
#include "system-error.h"

namespace tunnel_native {

namespace {

bool ParseOp(const std::string& name, RtnetlinkOp* op) {
  static const std::pair<const char*, RtnetlinkOp> kOps[] = {
      {"set-mtu", RtnetlinkOp::kSetMtu},           {"set-mac", RtnetlinkOp::kSetMac},
      {"set-up", RtnetlinkOp::kSetUp},             {"add-address", RtnetlinkOp::kAddAddress},
      {"delete-address", RtnetlinkOp::kDeleteAddress},
      {"replace-route", RtnetlinkOp::kReplaceRoute}, {"delete-route", RtnetlinkOp::kDeleteRoute},
      {"delete-link", RtnetlinkOp::kDeleteLink},   {"set-ipv4-forwarding", RtnetlinkOp::kSetIpv4Forwarding},
      {"set-ipv6-forwarding", RtnetlinkOp::kSetIpv6Forwarding}, {"mark-link", RtnetlinkOp::kMarkLink},
      {"delete-link-group", RtnetlinkOp::kDeleteLinkGroup},
  };
  for (const auto& [text, value] : kOps) {
    if (name == text) {
      *op = value;
      return true;
    }
  }
  return false;
}

// Copies a Uint8Array field of exactly `length` bytes; false when absent or of another shape.
bool CopyBytes(const Napi::Object& object, const char* field, size_t length, uint8_t* out) {
  Napi::Value value = object.Get(field);
  if (!value.IsTypedArray()) return false;
  auto array = value.As<Napi::TypedArray>();
  if (array.TypedArrayType() != napi_uint8_array || array.ElementLength() != length) return false;
  memcpy(out, value.As<Napi::Uint8Array>().Data(), length);
  return true;
}

bool Flag(const Napi::Object& object, const char* field) {
  Napi::Value value = object.Get(field);
  return value.IsBoolean() && value.As<Napi::Boolean>().Value();
}

// Reads the requests argument on the JS thread; throws a TypeError for anything misshapen (the
// TypeScript side checks first, so this only guards the addon).
bool ParseRequests(const Napi::CallbackInfo& info, std::vector<RtnetlinkRequest>* requests) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) {
    ThrowArgumentError(env, "rtnetlink: requests must be an array");
    return false;
  }
  auto array = info[0].As<Napi::Array>();
  requests->resize(array.Length());
  for (uint32_t i = 0; i < array.Length(); i++) {
    Napi::Value item = array.Get(i);
    RtnetlinkRequest& request = (*requests)[i];
    if (!item.IsObject()) {
      ThrowArgumentError(env, "rtnetlink: a request must be an object");
      return false;
    }
    auto object = item.As<Napi::Object>();
    Napi::Value op = object.Get("op");
    Napi::Value link = object.Get("link");
    Napi::Value value = object.Get("value");
    if (!op.IsString() || !ParseOp(op.As<Napi::String>().Utf8Value(), &request.op)) {
      ThrowArgumentError(env, "rtnetlink: unknown request op");
      return false;
    }
    if (link.IsString()) request.link = link.As<Napi::String>().Utf8Value();
    if (value.IsNumber()) request.value = value.As<Napi::Number>().Uint32Value();
    bool routed = request.op == RtnetlinkOp::kReplaceRoute || request.op == RtnetlinkOp::kDeleteRoute;
    request.unreachable = routed && Flag(object, "unreachable");
    bool group = request.op == RtnetlinkOp::kDeleteLinkGroup;
    if (request.link.empty() != (request.unreachable || group)) {
      ThrowArgumentError(env, "rtnetlink: a request needs a link (and a group deletion none)");
      return false;
    }
    if (group && request.value == 0) {
      ThrowArgumentError(env, "rtnetlink: group 0 holds every device not put in another");
      return false;
    }
    if (request.op == RtnetlinkOp::kMarkLink) {
      Napi::Value alias = object.Get("alias");
      if (!alias.IsString()) {
        ThrowArgumentError(env, "rtnetlink: mark-link needs an alias");
        return false;
      }
      request.alias = alias.As<Napi::String>().Utf8Value();
      if (request.alias.empty() || request.alias.size() > 255) {
        ThrowArgumentError(env, "rtnetlink: an alias is 1-255 bytes");
        return false;
      }
    }
    if (request.op == RtnetlinkOp::kSetMac && !CopyBytes(object, "address", 6, request.address)) {
      ThrowArgumentError(env, "rtnetlink: set-mac needs a 6-byte address");
      return false;
    }
    if (request.op == RtnetlinkOp::kAddAddress || request.op == RtnetlinkOp::kDeleteAddress || routed) {
      Napi::Value family = object.Get("family");
      request.family = family.IsNumber() && family.As<Napi::Number>().Int32Value() == 6 ? AF_INET6 : AF_INET;
      size_t bytes = request.family == AF_INET6 ? 16 : 4;
      Napi::Value prefix = object.Get("prefixLength");
      uint32_t length = prefix.IsNumber() ? prefix.As<Napi::Number>().Uint32Value() : 1000;
      if (!CopyBytes(object, "address", bytes, request.address) || length > bytes * 8) {
        ThrowArgumentError(env, "rtnetlink: an address or route needs an address of its family and a prefix length");
        return false;
      }
      request.prefix_length = static_cast<uint8_t>(length);
      request.exclusive = Flag(object, "exclusive");
      request.nodad = Flag(object, "nodad");
      request.has_peer = request.family == AF_INET && CopyBytes(object, "peer", 4, request.peer);
      request.local = routed && !request.unreachable && Flag(object, "local");
      if (!object.Get("source").IsUndefined()) {
        request.has_source = routed && !request.unreachable && CopyBytes(object, "source", bytes, request.source);
        if (!request.has_source) {
          ThrowArgumentError(env, "rtnetlink: a route's source is an address of its family, and an unreachable route has none");
          return false;
        }
      }
    }
  }
  return true;
}

Napi::Array ResultsToJs(Napi::Env env, const std::vector<RtnetlinkResult>& results) {
  auto out = Napi::Array::New(env, results.size());
  for (uint32_t i = 0; i < results.size(); i++) {
    auto result = Napi::Array::New(env, 3);
    int error = results[i].error;
    char text[128] = "";
    // GNU strerror_r returns the message pointer, which may or may not be `text`.
    const char* described = error == 0 ? "" : strerror_r(error, text, sizeof(text));
    result.Set(0u, Napi::Number::New(env, error));
    result.Set(1u, Napi::String::New(env, described));
    result.Set(2u, Napi::String::New(env, results[i].message));
    out.Set(i, result);
  }
  return out;
}

// A batch on a libuv pool thread: the event loop runs on while the kernel works.
class BatchWorker : public Napi::AsyncWorker {
 public:
  BatchWorker(Napi::Env env, std::vector<RtnetlinkRequest> requests)
      : Napi::AsyncWorker(env, "tunnel_native:rtnetlink"), deferred_(Napi::Promise::Deferred::New(env)), requests_(std::move(requests)) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override { ok_ = RunRtnetlinkBatch(requests_, &results_, &failure_); }

  void OnOK() override {
    Napi::Env env = Env();
    if (ok_) deferred_.Resolve(ResultsToJs(env, results_));
    else deferred_.Reject(SystemError(env, failure_.syscall, failure_.error).Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::vector<RtnetlinkRequest> requests_;
  std::vector<RtnetlinkResult> results_;
  RtnetlinkFailure failure_;
  bool ok_ = false;
};

class ListLinksWorker : public Napi::AsyncWorker {
 public:
  ListLinksWorker(Napi::Env env, std::string prefix)
      : Napi::AsyncWorker(env, "tunnel_native:rtnetlink-links"), deferred_(Napi::Promise::Deferred::New(env)), prefix_(std::move(prefix)) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override { ok_ = ListRtnetlinkLinks(prefix_, &links_, &failure_); }

  void OnOK() override {
    Napi::Env env = Env();
    if (!ok_) {
      deferred_.Reject(SystemError(env, failure_.syscall, failure_.error).Value());
      return;
    }
    auto out = Napi::Array::New(env, links_.size());
    for (uint32_t i = 0; i < links_.size(); i++) {
      auto entry = Napi::Array::New(env, 4);
      entry.Set(0u, Napi::String::New(env, links_[i].name));
      entry.Set(1u, Napi::Number::New(env, links_[i].index));
      entry.Set(2u, Napi::Number::New(env, links_[i].group));
      entry.Set(3u, Napi::String::New(env, links_[i].alias));
      out.Set(i, entry);
    }
    deferred_.Resolve(out);
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::string prefix_;
  std::vector<LinkEntry> links_;
  RtnetlinkFailure failure_;
  bool ok_ = false;
};

}  // namespace

Napi::Value RtnetlinkBatch(const Napi::CallbackInfo& info) {
  std::vector<RtnetlinkRequest> requests;
  if (!ParseRequests(info, &requests)) return info.Env().Undefined();
  auto* worker = new BatchWorker(info.Env(), std::move(requests));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Value RtnetlinkListLinks(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsString()) {
    ThrowArgumentError(info.Env(), "rtnetlink: the link name prefix must be a string");
    return info.Env().Undefined();
  }
  auto* worker = new ListLinksWorker(info.Env(), info[0].As<Napi::String>().Utf8Value());
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace tunnel_native
