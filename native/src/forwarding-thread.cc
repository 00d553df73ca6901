#include "forwarding-thread.h"

#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <thread>

#include "packet-endpoint.h"

namespace tunnel_native {

namespace {

constexpr int kEventsPerWait = 64;

}  // namespace

ForwardingThread& ForwardingThread::Instance() {
  // Deliberately never destroyed: the thread may still be in epoll_wait while the process exits.
  static ForwardingThread* instance = new ForwardingThread();
  return *instance;
}

ForwardingThread::ForwardingThread() = default;

int ForwardingThread::Start() {
  if (started_) return 0;
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) return errno;
  std::thread([this] { Run(); }).detach();
  started_ = true;
  return 0;
}

int ForwardingThread::Watch(PacketEndpoint* endpoint) {
  int err = Start();
  if (err != 0) return err;
  uint64_t id = next_id_++;
  struct epoll_event event = {};
  event.events = EPOLLIN;
  event.data.u64 = id;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, endpoint->fd(), &event) != 0) return errno;
  watched_[id] = endpoint;
  endpoint->set_forwarding_id(id);
  return 0;
}

void ForwardingThread::Unwatch(PacketEndpoint* endpoint) {
  uint64_t id = endpoint->forwarding_id();
  if (id == 0) return;
  if (endpoint->fd() >= 0) epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, endpoint->fd(), nullptr);
  watched_.erase(id);
  endpoint->set_forwarding_id(0);
}

void ForwardingThread::Run() {
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
      if (found != watched_.end()) found->second->ForwardReady(scratch_, (events[i].events & EPOLLERR) != 0);
    }
  }
}

}  // namespace tunnel_native
