#include "tun-open-batch.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <utility>

#include "packet-endpoint.h"
#include "system-error.h"
#include "virtio-net-header.h"

namespace tunnel_native {

namespace {

void Fail(TunOpenResult* result, const char* syscall, int err) {
  for (int fd : result->fds) close(fd);
  result->fds.clear();
  result->error = err;
  result->syscall = syscall;
}

// Opens /dev/net/tun and attaches it to the device `request` names; the descriptor or -errno.
int AttachQueue(struct ifreq* request, const char** syscall) {
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    *syscall = "open /dev/net/tun";
    return -errno;
  }
  if (ioctl(fd, TUNSETIFF, request) != 0) {
    int err = errno;
    close(fd);
    *syscall = "ioctl TUNSETIFF";
    return -err;
  }
  return fd;
}

class OpenWorker : public Napi::AsyncWorker {
 public:
  OpenWorker(Napi::Env env, std::vector<TunOpenRequest> requests)
      : Napi::AsyncWorker(env, "tunnel_native:open-tuns"), deferred_(Napi::Promise::Deferred::New(env)), requests_(std::move(requests)) {}

  ~OpenWorker() override {
    // Never handed to JS (the environment went away first): nothing may stay open.
    for (TunOpenResult& result : results_) {
      for (int fd : result.fds) close(fd);
    }
  }

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    results_.resize(requests_.size());
    for (size_t i = 0; i < requests_.size(); i++) OpenTunDevice(requests_[i], &results_[i]);
  }

  void OnOK() override {
    Napi::Env env = Env();
    auto out = Napi::Array::New(env, results_.size());
    for (uint32_t i = 0; i < results_.size(); i++) {
      TunOpenResult& result = results_[i];
      if (result.error == 0) {
        Napi::Value wrapped = WrapOpenedTun(env, result);
        if (!env.IsExceptionPending()) {
          out.Set(i, wrapped);
          continue;
        }
        // Wrapping closed the descriptors (the addon could not make an object: out of memory).
        env.GetAndClearPendingException();
        result.error = ENOMEM;
        result.syscall = "wrap";
      }
      auto failed = Napi::Array::New(env, 3);
      failed.Set(0u, env.Null());
      failed.Set(1u, Napi::Number::New(env, result.error));
      failed.Set(2u, Napi::String::New(env, result.syscall));
      out.Set(i, failed);
    }
    deferred_.Resolve(out);
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::vector<TunOpenRequest> requests_;
  std::vector<TunOpenResult> results_;
};

}  // namespace

void OpenTunDevice(const TunOpenRequest& request, TunOpenResult* result) {
  struct ifreq ifr = {};
  memcpy(ifr.ifr_name, request.name.data(), request.name.size());
  bool multi_queue = request.multi_queue || request.queues > 1;
  bool offload = request.offload && !request.tap;
  // Not persistent (no TUNSETPERSIST): the kernel removes the device when the last fd closes.
  short flags = static_cast<short>((request.tap ? IFF_TAP : IFF_TUN) | IFF_NO_PI | (multi_queue ? IFF_MULTI_QUEUE : 0));
  const char* syscall = "";
  for (;;) {
    ifr.ifr_flags = static_cast<short>(flags | (offload ? IFF_VNET_HDR : 0) | (request.exclusive ? IFF_TUN_EXCL : 0));
    int fd = AttachQueue(&ifr, &syscall);
    if (fd < 0) return Fail(result, syscall, -fd);
    if (!offload) {
      result->fds.push_back(fd);
      break;
    }
    // Offloads: the kernel may hand over TCP super-packets of up to 64 KB (TSO4/TSO6) and leave
    // checksums partial (CSUM); the endpoint splits and finishes them, and merges received
    // segments. A kernel that refuses them gets a plain TUN (closing the fd removed the device).
    int header_bytes = static_cast<int>(sizeof(VirtioNetHeader));
    unsigned int features = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
    if (ioctl(fd, TUNSETVNETHDRSZ, &header_bytes) == 0 && ioctl(fd, TUNSETOFFLOAD, features) == 0) {
      result->fds.push_back(fd);
      break;
    }
    close(fd);
    offload = false;
  }
  // More queues attach to the device just made (never exclusively: it exists now).
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags & ~IFF_TUN_EXCL);
  for (uint32_t queue = 1; queue < request.queues; queue++) {
    int fd = AttachQueue(&ifr, &syscall);
    if (fd < 0) return Fail(result, "ioctl TUNSETIFF (queue)", -fd);
    result->fds.push_back(fd);
  }
  ifr.ifr_name[IFNAMSIZ - 1] = '\0';
  result->name = ifr.ifr_name;
  result->offload = offload;
}

bool ParseTunOpenRequest(const Napi::CallbackInfo& info, const Napi::Value& name, const Napi::Value& multi_queue,
                         const Napi::Value& offload, const Napi::Value& tap, const Napi::Value& queues,
                         const Napi::Value& exclusive, TunOpenRequest* request) {
  Napi::Env env = info.Env();
  if (!name.IsString()) {
    ThrowArgumentError(env, "openTun: name must be a string");
    return false;
  }
  request->name = name.As<Napi::String>().Utf8Value();
  if (request->name.empty() || request->name.size() >= IFNAMSIZ) {
    ThrowArgumentError(env, "openTun: bad interface name length");
    return false;
  }
  request->multi_queue = multi_queue.ToBoolean().Value();
  request->offload = offload.ToBoolean().Value();
  // A TAP device carries Ethernet frames (gretap); offloads stay off there.
  request->tap = tap.ToBoolean().Value();
  request->exclusive = exclusive.ToBoolean().Value();
  // More than one queue: the device is multi-queue and each queue gets its own descriptor (and
  // forwarding thread); the kernel spreads flows over them by hash.
  request->queues = queues.IsNumber() ? queues.As<Napi::Number>().Uint32Value() : 1;
  if (request->queues < 1 || request->queues > kMaxQueues) {
    ThrowArgumentError(env, "openTun: queues out of range");
    return false;
  }
  return true;
}

Napi::Value WrapOpenedTun(Napi::Env env, TunOpenResult& opened) {
  std::vector<int> more(opened.fds.begin() + 1, opened.fds.end());
  int fd = opened.fds.front();
  opened.fds.clear();
  Napi::Value endpoint = PacketEndpoint::Wrap(env, fd, EndpointKind::kTun, false, opened.offload, AF_INET, more);
  if (env.IsExceptionPending()) return env.Undefined();
  Napi::Array result = Napi::Array::New(env, 3);
  result.Set(0u, endpoint);
  result.Set(1u, Napi::String::New(env, opened.name));
  result.Set(2u, Napi::Boolean::New(env, opened.offload));
  return result;
}

Napi::Value OpenTuns(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) {
    ThrowArgumentError(env, "openTuns: requests must be an array");
    return env.Undefined();
  }
  auto array = info[0].As<Napi::Array>();
  std::vector<TunOpenRequest> requests(array.Length());
  for (uint32_t i = 0; i < array.Length(); i++) {
    Napi::Value item = array.Get(i);
    if (!item.IsObject()) {
      ThrowArgumentError(env, "openTuns: a request must be an object");
      return env.Undefined();
    }
    auto object = item.As<Napi::Object>();
    if (!ParseTunOpenRequest(info, object.Get("name"), object.Get("multiQueue"), object.Get("offload"), object.Get("tap"),
                             object.Get("queues"), object.Get("exclusive"), &requests[i])) {
      return env.Undefined();
    }
  }
  auto* worker = new OpenWorker(env, std::move(requests));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace tunnel_native
