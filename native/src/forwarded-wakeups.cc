#include "forwarded-wakeups.h"

#include <algorithm>

#include "packet-endpoint.h"

namespace tunnel_native {

ForwardedWakeups* ForwardedWakeups::Create(Napi::Env env) {
  auto* wakeups = new ForwardedWakeups();
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  wakeups->async_ = new uv_async_t;
  if (uv_async_init(loop, wakeups->async_, OnAsync) != 0) {
    delete wakeups->async_;
    wakeups->async_ = nullptr;
    wakeups->closed_ = true;
    return wakeups;
  }
  wakeups->async_->data = wakeups;
  uv_unref(reinterpret_cast<uv_handle_t*>(wakeups->async_));
  napi_add_env_cleanup_hook(env, CloseOnExit, wakeups);
  return wakeups;
}

void ForwardedWakeups::CloseOnExit(void* arg) {
  auto* self = static_cast<ForwardedWakeups*>(arg);
  std::lock_guard<std::mutex> guard(self->mutex_);
  self->closed_ = true;
  self->posted_.clear();
  if (self->async_ == nullptr) return;
  uv_close(reinterpret_cast<uv_handle_t*>(self->async_), [](uv_handle_t* handle) { delete reinterpret_cast<uv_async_t*>(handle); });
  self->async_ = nullptr;
}

void ForwardedWakeups::Post(PacketEndpoint* endpoint) {
  std::lock_guard<std::mutex> guard(mutex_);
  if (closed_) return;
  if (!endpoint->wake_posted_) {
    endpoint->wake_posted_ = true;
    posted_.push_back(endpoint);
  }
  uv_async_send(async_);
}

void ForwardedWakeups::Forget(PacketEndpoint* endpoint) {
  std::lock_guard<std::mutex> guard(mutex_);
  if (endpoint->wake_posted_) posted_.erase(std::remove(posted_.begin(), posted_.end(), endpoint), posted_.end());
  endpoint->wake_posted_ = false;
  std::replace(draining_.begin(), draining_.end(), endpoint, static_cast<PacketEndpoint*>(nullptr));
}

void ForwardedWakeups::Hold(bool hold) {
  holds_ += hold ? 1 : -1;
  if (async_ == nullptr) return;
  if (hold && holds_ == 1) uv_ref(reinterpret_cast<uv_handle_t*>(async_));
  if (!hold && holds_ == 0) uv_unref(reinterpret_cast<uv_handle_t*>(async_));
}

void ForwardedWakeups::OnAsync(uv_async_t* handle) {
  auto* self = static_cast<ForwardedWakeups*>(handle->data);
  {
    std::lock_guard<std::mutex> guard(self->mutex_);
    self->draining_.swap(self->posted_);
  }
  // Each callback may close endpoints (forgotten here at once) or post again (next round).
  for (size_t i = 0;; i++) {
    PacketEndpoint* endpoint;
    {
      std::lock_guard<std::mutex> guard(self->mutex_);
      if (i >= self->draining_.size()) {
        self->draining_.clear();
        return;
      }
      endpoint = self->draining_[i];
      if (endpoint != nullptr) endpoint->wake_posted_ = false;
    }
    if (endpoint != nullptr) endpoint->OnForwardedWake();
  }
}

}  // namespace tunnel_native
