// The thread that forwards for every endpoint with fast routes. It waits on their descriptors with
// its own epoll, so data packets neither wait for nor wake the JS event loop (where timers, GC and
// everything else run). One mutex guards all forwarding state — routes, stashes, the watched set —
// between it and the JS thread; JS only takes it to configure, read counters or drain a stash.
#pragma once

#include <stdint.h>

#include <mutex>
#include <unordered_map>

#include "endpoint-forwarding.h"

namespace tunnel_native {

class PacketEndpoint;

class ForwardingThread {
 public:
  // The process's one forwarding thread (started on the first Watch, never torn down: it only
  // waits in epoll when nothing is watched).
  static ForwardingThread& Instance();

  std::mutex& mutex() { return mutex_; }
  // Both with mutex() held. Watch returns 0 or an errno.
  int Watch(PacketEndpoint* endpoint);
  void Unwatch(PacketEndpoint* endpoint);

 private:
  ForwardingThread();
  int Start();
  void Run();

  std::mutex mutex_;
  int epoll_fd_ = -1;
  bool started_ = false;
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, PacketEndpoint*> watched_;
  // Only the thread touches it.
  ForwardingScratch scratch_;
};

}  // namespace tunnel_native
