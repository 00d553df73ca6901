// One non-blocking packet descriptor (TUN device, raw IPv4 socket or UDP socket) with batched
// reads/writes and uv_poll readiness. The descriptor is owned here: close() sets fd_ to -1 and
// every later call is refused with a "closed" error, so a number the kernel reuses is never touched.
#pragma once

#include <napi.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <string.h>
#include <uv.h>

#include <memory>
#include <vector>

#include "tun-write-ring.h"

namespace tunnel_native {

enum class EndpointKind { kTun = 0, kRaw = 1, kUdp = 2 };

class PacketEndpoint : public Napi::ObjectWrap<PacketEndpoint> {
 public:
  static Napi::Function Define(Napi::Env env);
  // Wraps an open descriptor; on failure closes it and leaves a JS exception pending.
  static Napi::Value Wrap(Napi::Env env, int fd, EndpointKind kind);

  explicit PacketEndpoint(const Napi::CallbackInfo& info);
  ~PacketEndpoint() override;

  // Stops the watch and closes the descriptor without touching JS (also runs at env teardown).
  void ReleaseDescriptor();
  bool cleanup_registered_ = false;

 private:
  Napi::Value Read(const Napi::CallbackInfo& info);
  Napi::Value Write(const Napi::CallbackInfo& info);
  Napi::Value OnReadable(const Napi::CallbackInfo& info);
  Napi::Value OnWritable(const Napi::CallbackInfo& info);
  Napi::Value SetWatch(const Napi::CallbackInfo& info, Napi::FunctionReference& slot);
  Napi::Value SetReferenced(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value LocalPort(const Napi::CallbackInfo& info);
  Napi::Value Counters(const Napi::CallbackInfo& info);

  int ReadTun(const class BatchView& batch, uint32_t headroom);
  int ReadDatagrams(const class BatchView& batch, uint32_t headroom);
  int WriteTun(const class BatchView& batch, uint32_t count);
  int WriteDatagrams(const class BatchView& batch, uint32_t count);
  void EnsureScratch(uint32_t count);
  void CountWriteError(int err);

  // Starts, changes or stops the uv_poll watch to match the callbacks that are set.
  bool UpdatePoll(Napi::Env env);
  void StopPoll();
  static void OnPoll(uv_poll_t* handle, int status, int events);
  void Invoke(Napi::FunctionReference& callback);

  int fd_ = -1;
  EndpointKind kind_ = EndpointKind::kTun;
  uv_poll_t* poll_ = nullptr;
  int poll_events_ = 0;
  bool referenced_ = true;
  bool self_pinned_ = false;
  Napi::FunctionReference readable_;
  Napi::FunctionReference writable_;
  std::unique_ptr<Napi::AsyncContext> async_context_;

  // Reused between calls so steady-state batches allocate nothing.
  std::vector<struct mmsghdr> msgs_;
  std::vector<struct iovec> iovs_;
  std::vector<struct sockaddr_in> names_;
  // TUN writes of two or more packets go through this ring (set up on first use).
  TunWriteRing tun_ring_;

  double truncated_ = 0;
  double write_errors_ = 0;
  int last_write_errno_ = 0;
};

}  // namespace tunnel_native
