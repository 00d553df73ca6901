#include "packet-endpoint.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/errqueue.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <utility>

#include "addon-data.h"
#include "batch-view.h"
#include "forwarding-thread.h"
#include "system-error.h"

namespace tunnel_native {

namespace {

// Batches forwarded per wake-up before other descriptors get their turn (the poll is level-triggered).
constexpr int kForwardingRounds = 8;

// Path MTU reports kept for JS at most; an older one for the same address is replaced.
constexpr size_t kMaxReports = 64;

// Errors after which a batch stops: the kernel is full right now, try again when writable.
bool IsBackpressure(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS; }

// Errors that mean the descriptor itself is unusable rather than one packet being refused.
void SetHandleReferenced(uv_handle_t* handle, bool referenced) {
  if (referenced) {
    uv_ref(handle);
  } else {
    uv_unref(handle);
  }
}

bool IsDescriptorFault(int err) { return err == EBADF || err == EFAULT || err == ENOTSOCK; }

void CleanupOnExit(void* arg) {
  auto* endpoint = static_cast<PacketEndpoint*>(arg);
  endpoint->cleanup_registered_ = false;
  endpoint->ReleaseDescriptor();
}

}  // namespace

Napi::Function PacketEndpoint::Define(Napi::Env env) {
  return DefineClass(env, "PacketEndpoint",
                     {
                         InstanceMethod<&PacketEndpoint::Read>("read"),
                         InstanceMethod<&PacketEndpoint::Write>("write"),
                         InstanceMethod<&PacketEndpoint::OnReadable>("onReadable"),
                         InstanceMethod<&PacketEndpoint::OnWritable>("onWritable"),
                         InstanceMethod<&PacketEndpoint::SetReferenced>("setReferenced"),
                         InstanceMethod<&PacketEndpoint::Close>("close"),
                         InstanceMethod<&PacketEndpoint::LocalPort>("localPort"),
                         InstanceMethod<&PacketEndpoint::Counters>("counters"),
                         InstanceMethod<&PacketEndpoint::TakePathMtuReports>("takePathMtuReports"),
                     });
}

static_assert(kMaxQueues == ForwardingThread::kMaxThreads, "a forwarding thread per queue");

Napi::Value PacketEndpoint::Wrap(Napi::Env env, int fd, EndpointKind kind, bool gro, bool vnet, int family,
                                 const std::vector<int>& more_queues) {
  AddonData* data = env.GetInstanceData<AddonData>();
  Napi::Object object = data->endpoint_constructor.New({});
  if (env.IsExceptionPending()) {
    close(fd);
    for (int queue : more_queues) close(queue);
    return env.Undefined();
  }
  PacketEndpoint* endpoint = PacketEndpoint::Unwrap(object);
  endpoint->fd_ = fd;
  endpoint->more_fds_ = more_queues;
  endpoint->kind_ = kind;
  endpoint->family_ = family;
  if (gro) endpoint->gro_reader_ = std::make_unique<UdpGroReader>();
  if (vnet) {
    endpoint->vnet_ = true;
    for (unsigned queue = 0; queue < endpoint->queues(); queue++) endpoint->offload_readers_[queue] = std::make_unique<TunOffloadReader>();
  }
  napi_type_tag_object(env, object, &kEndpointTag);
  napi_add_env_cleanup_hook(env, CleanupOnExit, endpoint);
  endpoint->cleanup_registered_ = true;
  return object;
}

PacketEndpoint::PacketEndpoint(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PacketEndpoint>(info) {}

PacketEndpoint::~PacketEndpoint() {
  ReleaseDescriptor();
  if (cleanup_registered_) napi_remove_env_cleanup_hook(Env(), CleanupOnExit, this);
}

void PacketEndpoint::ReleaseDescriptor() {
  for (int fd : TakeDescriptors()) close(fd);
}

std::vector<int> PacketEndpoint::TakeDescriptors() {
  if (forwarding_) {
    ForwardingLock lock;
    for (unsigned queue = 0; queue < queues(); queue++) ForwardingThread::At(queue).Unwatch(this, queue);
    forwarding_->ForgetAll(this);
  }
  // No forwarding thread can post this endpoint any more.
  if (wakeups_ != nullptr) {
    SetHolding(false);
    wakeups_->Forget(this);
  }
  if (poll_ != nullptr) {
    uv_poll_stop(poll_);
    poll_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(poll_),
             [](uv_handle_t* handle) { delete reinterpret_cast<uv_poll_t*>(handle); });
    poll_ = nullptr;
  }
  poll_events_ = 0;
  std::vector<int> fds;
  if (fd_ >= 0) fds.push_back(fd_);
  for (int queue : more_fds_) {
    if (queue >= 0) fds.push_back(queue);
  }
  for (int& queue : more_fds_) queue = -1;
  fd_ = -1;
  return fds;
}

// read(batch, headroom) -> packets read (0 when none wait)
Napi::Value PacketEndpoint::Read(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (fd_ < 0) {
    ThrowClosedError(env);
    return env.Undefined();
  }
  BatchView* batch = UnwrapBatch(env, info[0]);
  if (batch == nullptr) return env.Undefined();
  uint32_t headroom = info[1].IsNumber() ? info[1].As<Napi::Number>().Uint32Value() : 0;
  if (headroom >= batch->slot_size) {
    ThrowArgumentError(env, "headroom must be smaller than the slot size");
    return env.Undefined();
  }
  int n = 0;
  bool drained = false;
  if (forwarding_) {
    ForwardingLock lock;
    if (forwarding_ids_[0] != 0 || forwarding_->Stashed() > 0 || forwarding_errno_ != 0) {
      // The forwarding threads have read already; JS gets what no route took.
      n = static_cast<int>(forwarding_->DrainStash(batch->Slots(), headroom));
      if (n == 0 && forwarding_errno_ != 0) n = -forwarding_errno_.exchange(0);
      drained = true;
    }
  }
  // Unwatched, only queue 0 is read (a multi-queue TUN is always watched: it has a fast route).
  if (!drained) n = ReadPackets(0, batch->Slots(), headroom);
  if (n < 0) {
    ThrowSystemError(env, kind_ == EndpointKind::kTun ? "read" : "recvmmsg", -n);
    return env.Undefined();
  }
  return Napi::Number::New(env, n);
}

int PacketEndpoint::ReadPackets(unsigned queue, const PacketSlots& slots, uint32_t headroom) {
  return kind_ == EndpointKind::kTun ? ReadTun(queue, slots, headroom) : ReadDatagrams(slots, headroom);
}

EndpointForwarding& PacketEndpoint::forwarding() {
  if (!forwarding_) forwarding_ = std::make_unique<EndpointForwarding>();
  return *forwarding_;
}

int PacketEndpoint::ReadTun(unsigned queue, const PacketSlots& batch, uint32_t headroom) {
  int n = ReadTunQueue(queue, batch, headroom);
  if (n > 0) queue_reads_[queue] += n;
  return n;
}

int PacketEndpoint::ReadTunQueue(unsigned queue, const PacketSlots& batch, uint32_t headroom) {
  int fd = this->fd(queue);
  if (offload_readers_[queue]) return offload_readers_[queue]->Read(fd, batch, headroom, &truncated_[queue], &offload_[queue]);
  uint32_t room = batch.slot_size - headroom;
  uint32_t count = 0;
  while (count < batch.capacity) {
    uint8_t* slot = batch.data + static_cast<size_t>(count) * batch.slot_size + headroom;
    ssize_t n = read(fd, slot, room);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK || count > 0) break;
      return -errno;
    }
    // A TUN read that fills the slot exactly may have been cut short: the packet is unusable.
    if (static_cast<uint32_t>(n) == room) {
      truncated_[queue]++;
      continue;
    }
    batch.offsets[count] = headroom;
    batch.lengths[count] = static_cast<uint32_t>(n);
    count++;
  }
  return static_cast<int>(count);
}

void PacketEndpoint::WriteInner(TunPacketWriter& writer, TunWriteRing& ring, const PacketSlots& run, uint32_t count,
                                int32_t* results) {
  // Only the thread that owns the sockets delivers, and it owns queue 0: it counts there.
  writer.Write(fd_, vnet_, ring, run, count, results, &offload_[0]);
}

void PacketEndpoint::EnsureReceiveScratch(uint32_t count) {
  if (msgs_.size() >= count) return;
  msgs_.resize(count);
  iovs_.resize(count);
  names_.resize(count);
}

void PacketEndpoint::EnsureSendScratch(uint32_t count) {
  if (send_msgs_.size() >= count) return;
  send_msgs_.resize(count);
  send_iovs_.resize(count);
  send_names_.resize(count);
}

int PacketEndpoint::ReadDatagrams(const PacketSlots& batch, uint32_t headroom) {
  if (gro_reader_) {
    int n = gro_reader_->Read(fd_, batch, headroom, &truncated_[0]);
    // A pending socket error (an ICMP error on an IPV6_RECVERR socket): its details are queued.
    if (n < 0) DrainErrorQueue();
    return n;
  }
  EnsureReceiveScratch(batch.capacity);
  uint32_t room = batch.slot_size - headroom;
  for (uint32_t i = 0; i < batch.capacity; i++) {
    iovs_[i].iov_base = batch.data + static_cast<size_t>(i) * batch.slot_size + headroom;
    iovs_[i].iov_len = room;
    struct msghdr& header = msgs_[i].msg_hdr;
    header.msg_name = &names_[i];
    header.msg_namelen = sizeof(names_[i]);
    header.msg_iov = &iovs_[i];
    header.msg_iovlen = 1;
    header.msg_control = nullptr;
    header.msg_controllen = 0;
    header.msg_flags = 0;
  }
  int received;
  do {
    received = recvmmsg(fd_, msgs_.data(), batch.capacity, MSG_DONTWAIT, nullptr);
  } while (received < 0 && errno == EINTR);
  if (received < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    int err = errno;
    // A pending socket error (an ICMP error on an IPV6_RECVERR socket): its details are queued.
    DrainErrorQueue();
    return -err;
  }

  uint32_t count = 0;
  for (uint32_t i = 0; i < static_cast<uint32_t>(received); i++) {
    if (msgs_[i].msg_hdr.msg_flags & MSG_TRUNC) {
      truncated_[0]++;
      continue;
    }
    if (count != i) {
      // Close the gap a dropped (truncated) datagram left, so slots [0, count) stay dense.
      memmove(batch.data + static_cast<size_t>(count) * batch.slot_size + headroom,
              iovs_[i].iov_base, msgs_[i].msg_len);
    }
    batch.offsets[count] = headroom;
    batch.lengths[count] = msgs_[i].msg_len;
    SetSlotSource(batch, count, names_[i]);
    count++;
  }
  return static_cast<int>(count);
}

// write(batch, count) -> slots consumed from the front (sent, or dropped for a per-packet error)
Napi::Value PacketEndpoint::Write(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (fd_ < 0) {
    ThrowClosedError(env);
    return env.Undefined();
  }
  BatchView* batch = UnwrapBatch(env, info[0]);
  if (batch == nullptr) return env.Undefined();
  uint32_t count = info[1].IsNumber() ? info[1].As<Napi::Number>().Uint32Value() : 0;
  if (count > batch->capacity) {
    ThrowArgumentError(env, "count exceeds the batch capacity");
    return env.Undefined();
  }
  for (uint32_t i = 0; i < count; i++) {
    if (static_cast<uint64_t>(batch->offsets[i]) + batch->lengths[i] > batch->slot_size) {
      ThrowArgumentError(env, "a slot's offset + length runs past the slot");
      return env.Undefined();
    }
  }
  int n = kind_ == EndpointKind::kTun ? WriteTun(batch->Slots(), count) : WriteDatagrams(batch->Slots(), count);
  if (n < 0) {
    ThrowSystemError(env, kind_ == EndpointKind::kTun ? "write" : "sendmmsg", -n);
    return env.Undefined();
  }
  return Napi::Number::New(env, n);
}

void PacketEndpoint::CountWriteError(int err) {
  write_errors_++;
  last_write_errno_ = err;
}

int PacketEndpoint::WriteTun(const PacketSlots& batch, uint32_t count) {
  // JS is one thread: one writer and one io_uring ring serve every TUN it writes to.
  AddonData* data = Env().GetInstanceData<AddonData>();
  if (data->js_write_results.size() < count) data->js_write_results.resize(count);
  int32_t* results = data->js_write_results.data();
  data->js_tun_writer.Write(fd_, vnet_, data->js_tun_ring, batch, count, results, &js_offload_);
  // Slots are consumed from the front. A packet whose write failed counts as dropped when a later
  // one went out (the ring submits a whole run); at the tail, backpressure stops the batch there
  // for the caller to retry, and a broken descriptor is reported.
  uint32_t sent_through = 0;
  for (uint32_t i = 0; i < count; i++) {
    if (results[i] >= 0) sent_through = i + 1;
  }
  uint32_t done = 0;
  for (; done < count; done++) {
    if (results[done] >= 0) continue;
    int err = -results[done];
    if (done >= sent_through) {
      if (IsBackpressure(err)) break;
      if (IsDescriptorFault(err)) return done > 0 ? static_cast<int>(done) : -err;
    }
    CountWriteError(err);  // e.g. EINVAL for a malformed packet: drop it, keep the batch going
  }
  return static_cast<int>(done);
}

int PacketEndpoint::WriteDatagrams(const PacketSlots& batch, uint32_t count) {
  EnsureSendScratch(count);
  bool with_port = kind_ == EndpointKind::kUdp;
  for (uint32_t i = 0; i < count; i++) {
    send_iovs_[i].iov_base = batch.data + static_cast<size_t>(i) * batch.slot_size + batch.offsets[i];
    send_iovs_[i].iov_len = batch.lengths[i];
    struct msghdr& header = send_msgs_[i].msg_hdr;
    header.msg_namelen = SlotDestination(&send_names_[i], family_, batch, i, with_port);
    header.msg_name = &send_names_[i];
    header.msg_iov = &send_iovs_[i];
    header.msg_iovlen = 1;
    header.msg_control = nullptr;
    header.msg_controllen = 0;
    header.msg_flags = 0;
  }
  uint32_t done = 0;
  while (done < count) {
    int sent = sendmmsg(fd_, send_msgs_.data() + done, count - done, MSG_DONTWAIT);
    if (sent > 0) {
      done += static_cast<uint32_t>(sent);
      continue;
    }
    int err = errno;
    if (err == EINTR) continue;
    if (IsBackpressure(err)) break;
    if (IsDescriptorFault(err)) return done > 0 ? static_cast<int>(done) : -err;
    CountWriteError(err);  // e.g. EHOSTUNREACH or EMSGSIZE for this datagram: drop it, go on
    done++;
  }
  return static_cast<int>(done);
}

// onReadable(fn | null): level-triggered; replaces any earlier callback.
Napi::Value PacketEndpoint::OnReadable(const Napi::CallbackInfo& info) {
  return SetWatch(info, readable_);
}

// onWritable(fn | null): one-shot; called once when the descriptor accepts writes again.
Napi::Value PacketEndpoint::OnWritable(const Napi::CallbackInfo& info) {
  return SetWatch(info, writable_);
}

// Stores fn (or clears the slot for null) and re-arms the poll for the callbacks now wanted.
Napi::Value PacketEndpoint::SetWatch(const Napi::CallbackInfo& info, Napi::FunctionReference& slot) {
  Napi::Env env = info.Env();
  if (fd_ < 0) {
    ThrowClosedError(env);
    return env.Undefined();
  }
  if (info[0].IsFunction()) {
    slot = Napi::Persistent(info[0].As<Napi::Function>());
  } else {
    slot.Reset();
  }
  UpdatePoll(env);
  return env.Undefined();
}

// setReferenced(bool): whether an active watch keeps the event loop alive.
Napi::Value PacketEndpoint::SetReferenced(const Napi::CallbackInfo& info) {
  referenced_ = info[0].ToBoolean().Value();
  if (wakeups_ != nullptr && Threaded()) SetHolding(referenced_);
  if (poll_ != nullptr) SetHandleReferenced(reinterpret_cast<uv_handle_t*>(poll_), referenced_);
  return info.Env().Undefined();
}

bool PacketEndpoint::Threaded() const {
  if (!forwarding_) return false;
  // A forwarding thread may unwatch a TUN in error at any time.
  ForwardingLock lock;
  for (unsigned queue = 0; queue < queues(); queue++) {
    if (forwarding_ids_[queue] != 0) return true;
  }
  return false;
}

bool PacketEndpoint::UpdatePoll(Napi::Env env) {
  bool forwarding = false;
  if (forwarding_ && fd_ >= 0 && !readable_.IsEmpty()) {
    ForwardingLock lock;
    forwarding = forwarding_->Active();
  }
  if (forwarding != Threaded() && !SetThreaded(env, forwarding)) return false;
  int want = 0;
  if (fd_ >= 0 && !readable_.IsEmpty() && !forwarding) want |= UV_READABLE;
  if (fd_ >= 0 && !writable_.IsEmpty()) want |= UV_WRITABLE;
  if (want != poll_events_) {
    if (want == 0) {
      StopPoll();
    } else {
      if (poll_ == nullptr) {
        uv_loop_t* loop = nullptr;
        napi_get_uv_event_loop(env, &loop);
        poll_ = new uv_poll_t;
        int rc = uv_poll_init(loop, poll_, fd_);
        if (rc != 0) {
          delete poll_;
          poll_ = nullptr;
          ThrowSystemError(env, "uv_poll_init", -rc);
          return false;
        }
        poll_->data = this;
        if (!referenced_) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
      }
      int rc = uv_poll_start(poll_, want, OnPoll);
      if (rc != 0) {
        ThrowSystemError(env, "uv_poll_start", -rc);
        return false;
      }
      poll_events_ = want;
    }
  }
  if ((want != 0 || forwarding) && !async_context_) {
    async_context_ = std::make_unique<Napi::AsyncContext>(env, "tunnel_native:poll");
  }
  UpdatePin(want != 0 || forwarding);
  return true;
}

// While anything watches the descriptor, the JS object must outlive the watch even if the caller
// drops it.
void PacketEndpoint::UpdatePin(bool wanted) {
  if (wanted && !self_pinned_) {
    Ref();
    self_pinned_ = true;
  } else if (!wanted && self_pinned_) {
    self_pinned_ = false;
    Unref();
  }
}

bool PacketEndpoint::SetThreaded(Napi::Env env, bool threaded) {
  if (!threaded) {
    {
      ForwardingLock lock;
      for (unsigned queue = 0; queue < queues(); queue++) ForwardingThread::At(queue).Unwatch(this, queue);
    }
    SetHolding(false);
    return true;
  }
  if (wakeups_ == nullptr) wakeups_ = env.GetInstanceData<AddonData>()->wakeups;
  // Queue k goes to forwarding thread k; a socket (one descriptor) to thread 0.
  int err = 0;
  {
    ForwardingLock lock;
    for (unsigned queue = 0; queue < queues() && err == 0; queue++) err = ForwardingThread::At(queue).Watch(this, queue);
    if (err != 0) {
      for (unsigned queue = 0; queue < queues(); queue++) ForwardingThread::At(queue).Unwatch(this, queue);
    }
  }
  if (err != 0) {
    ThrowSystemError(env, "epoll_ctl", err);
    return false;
  }
  // The uv_poll it replaces kept the loop alive (unless unref'd); the shared wake-ups do now.
  SetHolding(referenced_);
  return true;
}

void PacketEndpoint::SetHolding(bool holding) {
  if (holding == holding_ || wakeups_ == nullptr) return;
  holding_ = holding;
  wakeups_->Hold(holding);
}

void PacketEndpoint::RefreshWatch() {
  Napi::Env env = Env();
  UpdatePoll(env);
  // A failure here has no JS caller to report to; the descriptor stays with whoever had it.
  if (env.IsExceptionPending()) env.GetAndClearPendingException();
}

void PacketEndpoint::StopPoll() {
  if (poll_ != nullptr) uv_poll_stop(poll_);
  poll_events_ = 0;
}

void PacketEndpoint::OnPoll(uv_poll_t* handle, int status, int events) {
  auto* self = static_cast<PacketEndpoint*>(handle->data);
  if (self == nullptr) return;
  Napi::Env env = self->Env();
  Napi::HandleScope scope(env);
  // A local handle holds the object across the callbacks (one may close it and drop the last
  // reference); unlike a persistent reference it costs no global handle and no malloc per wake-up.
  Napi::Object keep = self->Value();
  static_cast<void>(keep);
  if (status < 0 && self->kind_ != EndpointKind::kTun && self->fd_ >= 0) {
    // libuv stops the watch on POLLERR: on a socket that is an ICMP error queued for it (IPV6_RECVERR).
    // Take what it says, clear it, and watch again; the readable callback then hears of it.
    self->DrainErrorQueue();
    self->poll_events_ = 0;
    self->UpdatePoll(env);
    if (env.IsExceptionPending()) env.GetAndClearPendingException();
    status = 0;
    events = UV_READABLE;
  }
  if (status < 0) {
    // libuv has already stopped the watch; the callbacks' next read/write reports the error.
    self->poll_events_ = 0;
    events = UV_READABLE | UV_WRITABLE;
  }
  if ((events & UV_WRITABLE) && !self->writable_.IsEmpty()) {
    Napi::FunctionReference callback = std::move(self->writable_);
    self->UpdatePoll(env);
    self->Invoke(callback);
  }
  if ((events & UV_READABLE) && self->fd_ >= 0 && !self->readable_.IsEmpty()) {
    self->Invoke(self->readable_);
  }
  if (status < 0 && self->fd_ >= 0) {
    self->StopPoll();
    self->UpdatePin(self->Threaded());
  }
}

void PacketEndpoint::ForwardReady(unsigned queue, ForwardingScratch& scratch, bool errors) {
  bool tell_js = false;
  if (errors && kind_ != EndpointKind::kTun) {
    DrainErrorQueue();
    tell_js = !mtu_reports_.empty();
  }
  for (int round = 0; round < kForwardingRounds && fd(queue) >= 0; round++) {
    int n = forwarding_->PumpOnce(*this, queue, scratch);
    if (n < 0) {
      forwarding_errno_ = -n;
      tell_js = true;
      // A TUN in error stays in error: stop watching it rather than spin (JS hears of it).
      // A socket's error (e.g. ICMP port unreachable) is reported once and cleared.
      if (kind_ == EndpointKind::kTun) ForwardingThread::At(queue).Unwatch(this, queue);
      break;
    }
    if (forwarding_->Stashed() > 0) tell_js = true;
    if (n < static_cast<int>(EndpointForwarding::kCapacity)) break;
  }
  if (tell_js && wakeups_ != nullptr) wakeups_->Post(this);
}

void PacketEndpoint::OnForwardedWake() {
  if (fd_ < 0 || readable_.IsEmpty()) return;
  Napi::HandleScope scope(Env());
  // Held across the callback, which may close the endpoint and drop the last reference.
  Napi::Object keep = Value();
  static_cast<void>(keep);
  Invoke(readable_);
}

void PacketEndpoint::Invoke(Napi::FunctionReference& callback) {
  Napi::Env env = Env();
  Napi::Function function = callback.Value();
  // MakeCallback (not Call) so promise jobs and nextTick queued by the callback run afterwards.
  function.MakeCallback(Value(), {}, *async_context_);
  if (env.IsExceptionPending()) {
    Napi::Error error = env.GetAndClearPendingException();
    napi_fatal_exception(env, error.Value());
  }
}

// close(): idempotent; stops the watch and closes the descriptor.
Napi::Value PacketEndpoint::Close(const Napi::CallbackInfo& info) {
  for (int fd : CloseLater()) close(fd);
  return info.Env().Undefined();
}

std::vector<int> PacketEndpoint::CloseLater() {
  readable_.Reset();
  writable_.Reset();
  StopPoll();
  std::vector<int> fds = TakeDescriptors();
  UpdatePin(false);
  return fds;
}

Napi::Value PacketEndpoint::LocalPort(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (fd_ < 0) {
    ThrowClosedError(env);
    return env.Undefined();
  }
  SocketAddress name = {};
  socklen_t length = sizeof(name);
  if (getsockname(fd_, &name.any, &length) != 0) {
    ThrowSystemError(env, "getsockname", errno);
    return env.Undefined();
  }
  return Napi::Number::New(env, ntohs(name.any.sa_family == AF_INET6 ? name.v6.sin6_port : name.v4.sin_port));
}

// counters() -> [truncated reads dropped, writes dropped for an error, last write errno,
//                packets read while forwarding that JS never read, TCP super-packets read,
//                segments made of them, partial checksums finished, offload reads dropped,
//                merged writes, segments merged, then (a TUN) packets read from each of its queues]
Napi::Value PacketEndpoint::Counters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  double unread = 0;
  double truncated = 0;
  TunOffloadCounters offload = js_offload_;
  double reads[kMaxQueues];
  {
    // The forwarding threads count under their mutexes while they read or write this descriptor.
    ForwardingLock lock;
    if (forwarding_) unread = forwarding_->unread_drops();
    for (unsigned queue = 0; queue < kMaxQueues; queue++) {
      truncated += truncated_[queue];
      offload.Add(offload_[queue]);
      reads[queue] = queue_reads_[queue];
    }
  }
  double values[] = {truncated, write_errors_, static_cast<double>(last_write_errno_), unread, offload.super_packets,
                     offload.segments, offload.checksums, offload.malformed, offload.coalesced_writes,
                     offload.coalesced_segments};
  constexpr uint32_t kCount = sizeof(values) / sizeof(values[0]);
  unsigned queues = kind_ == EndpointKind::kTun ? this->queues() : 0;
  Napi::Array out = Napi::Array::New(env, kCount + queues);
  for (uint32_t i = 0; i < kCount; i++) out.Set(i, Napi::Number::New(env, values[i]));
  for (unsigned queue = 0; queue < queues; queue++) out.Set(kCount + queue, Napi::Number::New(env, reads[queue]));
  return out;
}

void PacketEndpoint::DrainErrorQueue() {
  if (fd_ < 0 || kind_ == EndpointKind::kTun) return;
  // Bounded: the queue is bounded by the receive buffer anyway, and a flood must not hold us here.
  for (int n = 0; n < 256; n++) {
    SocketAddress destination = {};
    uint8_t data[64];
    struct iovec iov = {data, sizeof(data)};
    alignas(struct cmsghdr) char control[256];
    struct msghdr header = {};
    header.msg_name = &destination;
    header.msg_namelen = sizeof(destination);
    header.msg_iov = &iov;
    header.msg_iovlen = 1;
    header.msg_control = control;
    header.msg_controllen = sizeof(control);
    ssize_t got = recvmsg(fd_, &header, MSG_ERRQUEUE | MSG_DONTWAIT);
    if (got < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&header); c != nullptr; c = CMSG_NXTHDR(&header, c)) {
      bool recverr = (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR) ||
                     (c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR);
      if (!recverr) continue;
      struct sock_extended_err error;
      memcpy(&error, CMSG_DATA(c), sizeof(error));
      // EMSGSIZE with the next hop's MTU in ee_info: ICMPv6 Packet Too Big or ICMP fragmentation
      // needed (from a router), or the local path MTU refusing a send.
      if (error.ee_errno != EMSGSIZE || error.ee_info == 0) continue;
      PathMtuReport report = {};
      report.ipv6 = destination.any.sa_family == AF_INET6;
      if (report.ipv6) {
        memcpy(report.v6, &destination.v6.sin6_addr, 16);
      } else {
        report.v4 = ntohl(destination.v4.sin_addr.s_addr);
      }
      report.mtu = error.ee_info;
      bool replaced = false;
      for (PathMtuReport& known : mtu_reports_) {
        if (known.ipv6 == report.ipv6 && known.v4 == report.v4 && memcmp(known.v6, report.v6, 16) == 0) {
          known.mtu = report.mtu;
          replaced = true;
        }
      }
      if (!replaced) {
        if (mtu_reports_.size() >= kMaxReports) mtu_reports_.erase(mtu_reports_.begin());
        mtu_reports_.push_back(report);
      }
    }
  }
  int pending = 0;
  socklen_t length = sizeof(pending);
  getsockopt(fd_, SOL_SOCKET, SO_ERROR, &pending, &length);
}

// takePathMtuReports() -> undefined when none, else [[address, mtu], ...] where address is a
// number (IPv4, host order) or a 16-byte Uint8Array (IPv6)
Napi::Value PacketEndpoint::TakePathMtuReports(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<PathMtuReport> reports;
  {
    ForwardingLock lock;
    reports.swap(mtu_reports_);
  }
  if (reports.empty()) return env.Undefined();
  Napi::Array out = Napi::Array::New(env, reports.size());
  for (uint32_t i = 0; i < reports.size(); i++) {
    Napi::Array entry = Napi::Array::New(env, 2);
    if (reports[i].ipv6) {
      Napi::Uint8Array bytes = Napi::Uint8Array::New(env, 16);
      memcpy(bytes.Data(), reports[i].v6, 16);
      entry.Set(0u, bytes);
    } else {
      entry.Set(0u, Napi::Number::New(env, reports[i].v4));
    }
    entry.Set(1u, Napi::Number::New(env, reports[i].mtu));
    out.Set(i, entry);
  }
  return out;
}

}  // namespace tunnel_native
