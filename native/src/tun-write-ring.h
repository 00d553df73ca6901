// Batched writes into a TUN device through io_uring. A TUN device has no sendmmsg: each packet is
// one write(), and on this kind of machine the system call's entry, exit and descriptor lookup are
// a large share of the per-packet cost. One io_uring_enter submits a whole run of writes instead;
// the kernel still handles every packet separately, in order, in the calling thread.
#pragma once

#include <stdint.h>
#include <sys/uio.h>

namespace tunnel_native {

// One write: a packet, or a virtio-net header and a packet, gathered from up to two pieces.
struct TunWriteUnit {
  struct iovec iov[2];
  int iov_count;
};

class TunWriteRing {
 public:
  // Most writes one run submits (the submission queue's size).
  static constexpr uint32_t kRunLength = 64;

  TunWriteRing() = default;
  ~TunWriteRing();
  TunWriteRing(const TunWriteRing&) = delete;
  TunWriteRing& operator=(const TunWriteRing&) = delete;

  // Sets the ring up on first use. False when io_uring is unavailable (an old kernel,
  // kernel.io_uring_disabled, a seccomp filter) or failed once: the caller then uses write().
  bool Ready();

  // Writes units [0, count) (count <= kRunLength) into `fd`, in order, and stores each write's
  // result (bytes written or -errno) in results()[i]; a write the ring did not get to reads
  // -ECANCELED. Returns 0, or -errno when the submission itself failed; the ring is then closed
  // and Ready() stays false. The ring names the descriptor per write, so one ring can serve any
  // number of TUN devices.
  int WriteUnits(int fd, const TunWriteUnit* units, uint32_t count);
  const int32_t* results() const { return results_; }

  // Closes the ring (idempotent); later Ready() calls return false.
  void Close();

 private:
  bool Setup();
  void Unmap();

  int ring_fd_ = -1;
  bool failed_ = false;

  void* rings_ = nullptr;
  size_t rings_bytes_ = 0;
  void* sqes_ = nullptr;
  size_t sqes_bytes_ = 0;

  uint32_t* sq_tail_ = nullptr;
  uint32_t* sq_mask_ = nullptr;
  uint32_t* sq_array_ = nullptr;
  uint32_t* cq_head_ = nullptr;
  uint32_t* cq_tail_ = nullptr;
  uint32_t* cq_mask_ = nullptr;
  void* cqes_ = nullptr;

  int32_t results_[kRunLength] = {};
};

}  // namespace tunnel_native
