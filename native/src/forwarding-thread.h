// The threads that forward for every endpoint with fast routes. Each waits on its descriptors with
// its own epoll, so data packets neither wait for nor wake the JS event loop (where timers, GC and
// everything else run). Thread 0 watches every socket and the first queue of every TUN; thread k
// watches queue k of a multi-queue TUN, so the kernel's flows spread over as many threads as the
// TUN has queues.
//
// Each thread has a mutex it holds while it forwards. JS takes all of them (ForwardingLock, in
// index order) to configure routes, read counters, drain a stash or change what is watched: those
// are rare, and a forwarding thread releases its mutex between two epoll rounds. What threads
// share while each holds only its own mutex is made for it: a TUN's stash has a mutex of its own,
// a route counts its transmits per queue and reads what the receiving thread writes atomically.
#pragma once

#include <stdint.h>

#include <memory>
#include <mutex>
#include <unordered_map>

#include "endpoint-forwarding.h"

namespace tunnel_native {

class PacketEndpoint;

class ForwardingThread {
 public:
  // At most this many threads (and TUN queues).
  static constexpr unsigned kMaxThreads = 8;

  // Thread `index` (< kMaxThreads): made on first use, its OS thread started on the first Watch,
  // never torn down (it only waits in epoll when nothing is watched).
  static ForwardingThread& At(unsigned index);

  std::mutex& mutex() { return mutex_; }
  // Both with every thread's mutex held (ForwardingLock). Watch returns 0 or an errno.
  int Watch(PacketEndpoint* endpoint, unsigned queue);
  void Unwatch(PacketEndpoint* endpoint, unsigned queue);

 private:
  friend struct ForwardingThreadPool;
  ForwardingThread() = default;
  int Start();
  void Run();

  struct Watched {
    PacketEndpoint* endpoint;
    unsigned queue;
  };

  unsigned index_ = 0;
  std::mutex mutex_;
  int epoll_fd_ = -1;
  bool started_ = false;
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, Watched> watched_;
  // Only the thread touches it; made when the thread starts.
  std::unique_ptr<ForwardingScratch> scratch_;
};

// Holds every forwarding thread's mutex, taken in index order, for as long as it lives.
class ForwardingLock {
 public:
  ForwardingLock();
  ~ForwardingLock();
  ForwardingLock(const ForwardingLock&) = delete;
  ForwardingLock& operator=(const ForwardingLock&) = delete;
};

}  // namespace tunnel_native
