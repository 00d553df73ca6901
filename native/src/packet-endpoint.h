// One non-blocking packet descriptor (TUN device, raw IPv4 socket or UDP socket) with batched
// reads/writes and uv_poll readiness. The descriptor is owned here: close() sets fd_ to -1 and
// every later call is refused with a "closed" error, so a number the kernel reuses is never touched.
#pragma once

#include <napi.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <string.h>
#include <uv.h>

#include <atomic>
#include <memory>
#include <vector>

#include "endpoint-forwarding.h"
#include "forwarded-wakeups.h"
#include "packet-slots.h"
#include "socket-address.h"
#include "tun-offload-reader.h"
#include "tun-packet-writer.h"
#include "tun-write-ring.h"
#include "udp-gro-reader.h"

namespace tunnel_native {

enum class EndpointKind { kTun = 0, kRaw = 1, kUdp = 2 };

// Most queues a multi-queue TUN gets (one forwarding thread each).
constexpr unsigned kMaxQueues = 8;

// What an ICMP "packet too big" / "fragmentation needed" on the outer path said: the path toward
// `address` (IPv4 in `v4`, host order, or the 16 bytes of `v6`) takes at most `mtu` bytes.
struct PathMtuReport {
  bool ipv6;
  uint32_t v4;
  uint8_t v6[16];
  uint32_t mtu;
};

class PacketEndpoint : public Napi::ObjectWrap<PacketEndpoint> {
 public:
  static Napi::Function Define(Napi::Env env);
  // Wraps an open descriptor; on failure closes it and leaves a JS exception pending.
  // `gro`: the UDP socket has receive offload on; reads split coalesced datagrams (UdpGroReader).
  // `vnet`: the TUN was opened with IFF_VNET_HDR and offloads (TunOffloadReader, TunPacketWriter).
  // `family`: AF_INET or AF_INET6, the socket's address family (AF_INET for a TUN).
  // `more_queues`: a multi-queue TUN's other queue descriptors (queue 1 on), owned from here on.
  static Napi::Value Wrap(Napi::Env env, int fd, EndpointKind kind, bool gro = false, bool vnet = false,
                          int family = AF_INET, const std::vector<int>& more_queues = {});

  explicit PacketEndpoint(const Napi::CallbackInfo& info);
  ~PacketEndpoint() override;

  // Stops the watch and closes the descriptor without touching JS (also runs at env teardown).
  void ReleaseDescriptor();
  // ReleaseDescriptor without the closing: the descriptors are handed to the caller, who closes
  // them (off the event loop: closing a TUN's last descriptor unregisters its device).
  std::vector<int> TakeDescriptors();
  // close() without closing the descriptors, which it returns (see TakeDescriptors).
  std::vector<int> CloseLater();
  bool cleanup_registered_ = false;
  // Guarded by ForwardedWakeups' mutex: this endpoint waits in its list.
  bool wake_posted_ = false;
  // JS thread, from ForwardedWakeups: a forwarding thread stashed packets (or met a read error).
  void OnForwardedWake();

  // Queue 0's descriptor (the only one of a socket): JS's reads and writes go there.
  int fd() const { return fd_; }
  // The descriptor of TUN queue `queue` (< queues()); -1 once closed.
  int fd(unsigned queue) const { return queue == 0 ? fd_ : more_fds_[queue - 1]; }
  unsigned queues() const { return 1 + static_cast<unsigned>(more_fds_.size()); }
  EndpointKind kind() const { return kind_; }
  int family() const { return family_; }
  // Fast routes attach here; made on first use. Touch only with the forwarding lock held.
  EndpointForwarding& forwarding();
  // One batched read of queue `queue` into `slots` (packets, or a negative errno), by that
  // queue's owner only: its forwarding thread, or JS while none watches it.
  int ReadPackets(unsigned queue, const PacketSlots& slots, uint32_t headroom);
  // Writes inner packets [0, count) of `run` to this TUN through the caller's writer and ring;
  // results[i] is packet i's outcome (>= 0 written, or -errno). The forwarding thread's path.
  void WriteInner(TunPacketWriter& writer, TunWriteRing& ring, const PacketSlots& run, uint32_t count, int32_t* results);
  // Re-decides who watches the descriptor (uv_poll, the forwarding thread, or nobody) after
  // routes were attached or detached. Never with the forwarding mutex held.
  void RefreshWatch();

  // Used by the forwarding threads, with their mutex held.
  uint64_t forwarding_id(unsigned queue) const { return forwarding_ids_[queue]; }
  void set_forwarding_id(unsigned queue, uint64_t id) { forwarding_ids_[queue] = id; }
  // Queue `queue` is readable; `errors`: epoll saw EPOLLERR (an ICMP error is queued on the socket).
  void ForwardReady(unsigned queue, ForwardingScratch& scratch, bool errors);

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
  Napi::Value TakePathMtuReports(const Napi::CallbackInfo& info);

  // Reads the socket's error queue (IP_RECVERR/IPV6_RECVERR), keeps what it says about path MTUs
  // and clears the pending socket error, so neither epoll nor uv_poll keeps reporting it. Under the
  // forwarding mutex when the forwarding thread watches the socket.
  void DrainErrorQueue();

  int ReadTun(unsigned queue, const PacketSlots& batch, uint32_t headroom);
  int ReadTunQueue(unsigned queue, const PacketSlots& batch, uint32_t headroom);
  int ReadDatagrams(const PacketSlots& batch, uint32_t headroom);
  int WriteTun(const PacketSlots& batch, uint32_t count);
  int WriteDatagrams(const PacketSlots& batch, uint32_t count);
  void EnsureReceiveScratch(uint32_t count);
  void EnsureSendScratch(uint32_t count);
  void CountWriteError(int err);

  // Starts, changes or stops the uv_poll watch to match the callbacks that are set.
  bool UpdatePoll(Napi::Env env);
  void StopPoll();
  static void OnPoll(uv_poll_t* handle, int status, int events);
  void Invoke(Napi::FunctionReference& callback);
  // Moves the descriptor to or from the forwarding thread; false with a JS exception pending.
  bool SetThreaded(Napi::Env env, bool threaded);
  void UpdatePin(bool wanted);
  // Whether the forwarding thread watches the descriptor now.
  bool Threaded() const;
  // Whether this endpoint keeps the loop alive through the shared wake-ups.
  void SetHolding(bool holding);

  int fd_ = -1;
  // A multi-queue TUN's queues 1 and on; each is watched by the forwarding thread of its index.
  std::vector<int> more_fds_;
  EndpointKind kind_ = EndpointKind::kTun;
  int family_ = AF_INET;
  uv_poll_t* poll_ = nullptr;
  int poll_events_ = 0;
  bool referenced_ = true;
  bool self_pinned_ = false;
  Napi::FunctionReference readable_;
  Napi::FunctionReference writable_;
  std::unique_ptr<Napi::AsyncContext> async_context_;

  // Reused between calls so steady-state batches allocate nothing. Reads and writes have their
  // own, since the forwarding thread reads while JS writes.
  std::vector<struct mmsghdr> msgs_;
  std::vector<struct iovec> iovs_;
  std::vector<SocketAddress> names_;
  std::vector<struct mmsghdr> send_msgs_;
  std::vector<struct iovec> send_iovs_;
  std::vector<SocketAddress> send_names_;
  // Path MTUs the error queue reported, until JS takes them (at most kMaxReports, newest kept).
  std::vector<PathMtuReport> mtu_reports_;

  std::unique_ptr<EndpointForwarding> forwarding_;
  // A read error met while forwarding (on any queue), reported by JS's next read().
  std::atomic<int> forwarding_errno_{0};
  // Per queue: non-zero while a forwarding thread watches it instead of uv_poll.
  uint64_t forwarding_ids_[kMaxQueues] = {};
  // Where the forwarding threads post this endpoint for JS (set once it is forwarded).
  ForwardedWakeups* wakeups_ = nullptr;
  bool holding_ = false;
  // Set for a UDP socket opened with receive offload.
  std::unique_ptr<UdpGroReader> gro_reader_;
  // A TUN with a virtio-net header: reads split super-packets (a reader per queue, each keeping
  // its own half-split super-packet), writes merge segments.
  bool vnet_ = false;
  std::unique_ptr<TunOffloadReader> offload_readers_[kMaxQueues];
  // What the offloads did: per queue for its reader (queue 0 also for the receiving thread's
  // writes), and JS's writes apart, so no two threads count in one place.
  TunOffloadCounters offload_[kMaxQueues];
  TunOffloadCounters js_offload_;

  double truncated_[kMaxQueues] = {};
  // Packets read from each TUN queue, by the queue's reader (its forwarding thread, or JS).
  double queue_reads_[kMaxQueues] = {};
  double write_errors_ = 0;
  int last_write_errno_ = 0;
};

}  // namespace tunnel_native
