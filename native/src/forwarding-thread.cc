#include "forwarding-thread.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <thread>

#include "packet-endpoint.h"

namespace tunnel_native {

namespace {

constexpr int kEventsPerWait = 64;

}  // namespace

// Every thread object, made at once on first use so ForwardingLock always takes the same mutexes.
struct ForwardingThreadPool {
  ForwardingThreadPool() {
    for (unsigned i = 0; i < ForwardingThread::kMaxThreads; i++) threads[i].index_ = i;
  }
  ForwardingThread threads[ForwardingThread::kMaxThreads];
};

ForwardingThread& ForwardingThread::At(unsigned index) {
  // Deliberately never destroyed: a thread may still be in epoll_wait while the process exits.
  static ForwardingThreadPool* pool = new ForwardingThreadPool();
  return pool->threads[index < kMaxThreads ? index : 0];
}

int ForwardingThread::Start() {
  if (started_) return 0;
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) return errno;
  scratch_ = std::make_unique<ForwardingScratch>();
  std::thread([this] { Run(); }).detach();
  started_ = true;
  return 0;
}

int ForwardingThread::Watch(PacketEndpoint* endpoint, unsigned queue) {
  int err = Start();
  if (err != 0) return err;
  uint64_t id = next_id_++;
  struct epoll_event event = {};
  event.events = EPOLLIN;
  event.data.u64 = id;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, endpoint->fd(queue), &event) != 0) return errno;
  watched_[id] = {endpoint, queue};
  endpoint->set_forwarding_id(queue, id);
  return 0;
}

void ForwardingThread::Unwatch(PacketEndpoint* endpoint, unsigned queue) {
  uint64_t id = endpoint->forwarding_id(queue);
  if (id == 0) return;
  if (endpoint->fd(queue) >= 0) epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, endpoint->fd(queue), nullptr);
  watched_.erase(id);
  endpoint->set_forwarding_id(queue, 0);
}

void ForwardingThread::Run() {
  // Named for top -H, ps -L and /proc/PID/task/*/comm: "tc-forward-<queue>".
  char name[16];
  snprintf(name, sizeof(name), "tc-forward-%u", index_);
  pthread_setname_np(pthread_self(), name);
  struct epoll_event events[kEventsPerWait];
  for (;;) {
    int n = epoll_wait(epoll_fd_, events, kEventsPerWait, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    std::lock_guard<std::mutex> guard(mutex_);
    for (int i = 0; i < n; i++) {
      // An endpoint unwatched since epoll_wait returned is no longer in the table: skip it.
      auto found = watched_.find(events[i].data.u64);
      if (found == watched_.end()) continue;
      Watched watched = found->second;
      watched.endpoint->ForwardReady(watched.queue, *scratch_, (events[i].events & EPOLLERR) != 0);
    }
  }
}

ForwardingLock::ForwardingLock() {
  for (unsigned i = 0; i < ForwardingThread::kMaxThreads; i++) ForwardingThread::At(i).mutex().lock();
}

ForwardingLock::~ForwardingLock() {
  for (unsigned i = ForwardingThread::kMaxThreads; i > 0; i--) ForwardingThread::At(i - 1).mutex().unlock();
}

}  // namespace tunnel_native
