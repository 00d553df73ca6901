#include "tun-write-ring.h"

#include <errno.h>
#include <linux/fs.h>
#include <linux/io_uring.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace tunnel_native {

namespace {

// No liburing: the three system calls and the ring layout come from the kernel's UAPI header.
int SetupRing(uint32_t entries, struct io_uring_params* params) {
  return static_cast<int>(syscall(__NR_io_uring_setup, entries, params));
}

int EnterRing(int ring_fd, uint32_t submit, uint32_t wait) {
  return static_cast<int>(syscall(__NR_io_uring_enter, ring_fd, submit, wait, IORING_ENTER_GETEVENTS, nullptr, 0));
}

// The probe came with Linux 5.6 (IORING_OP_WRITEV with 5.1): a kernel without the probe is treated
// as lacking io_uring altogether.
bool SupportsWrite(int ring_fd) {
  constexpr unsigned kOps = IORING_OP_WRITEV + 1;
  alignas(struct io_uring_probe) uint8_t storage[sizeof(struct io_uring_probe) + kOps * sizeof(struct io_uring_probe_op)] = {};
  auto* probe = reinterpret_cast<struct io_uring_probe*>(storage);
  if (syscall(__NR_io_uring_register, ring_fd, IORING_REGISTER_PROBE, probe, kOps) != 0) return false;
  return probe->last_op >= IORING_OP_WRITEV && (probe->ops[IORING_OP_WRITEV].flags & IO_URING_OP_SUPPORTED);
}

template <typename T>
T* At(void* base, uint32_t offset) {
  return reinterpret_cast<T*>(static_cast<uint8_t*>(base) + offset);
}

}  // namespace

TunWriteRing::~TunWriteRing() { Close(); }

bool TunWriteRing::Ready() {
  if (ring_fd_ >= 0) return true;
  if (failed_) return false;
  if (!Setup()) {
    Close();
    failed_ = true;
    return false;
  }
  return true;
}

bool TunWriteRing::Setup() {
  struct io_uring_params params = {};
  // One thread submits and every write completes inline, so the kernel needs no task-work
  // interrupts. Kernels before 6.0 refuse these flags: retry without them.
  params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN;
  ring_fd_ = SetupRing(kRunLength, &params);
  if (ring_fd_ < 0 && errno == EINVAL) {
    params = {};
    ring_fd_ = SetupRing(kRunLength, &params);
  }
  if (ring_fd_ < 0) return false;
  if (!(params.features & IORING_FEAT_SINGLE_MMAP) || !SupportsWrite(ring_fd_)) return false;

  size_t sq_bytes = params.sq_off.array + params.sq_entries * sizeof(uint32_t);
  size_t cq_bytes = params.cq_off.cqes + params.cq_entries * sizeof(struct io_uring_cqe);
  rings_bytes_ = sq_bytes > cq_bytes ? sq_bytes : cq_bytes;
  rings_ = mmap(nullptr, rings_bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring_fd_, IORING_OFF_SQ_RING);
  if (rings_ == MAP_FAILED) {
    rings_ = nullptr;
    return false;
  }
  sqes_bytes_ = params.sq_entries * sizeof(struct io_uring_sqe);
  sqes_ = mmap(nullptr, sqes_bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring_fd_, IORING_OFF_SQES);
  if (sqes_ == MAP_FAILED) {
    sqes_ = nullptr;
    return false;
  }
  sq_tail_ = At<uint32_t>(rings_, params.sq_off.tail);
  sq_mask_ = At<uint32_t>(rings_, params.sq_off.ring_mask);
  sq_array_ = At<uint32_t>(rings_, params.sq_off.array);
  cq_head_ = At<uint32_t>(rings_, params.cq_off.head);
  cq_tail_ = At<uint32_t>(rings_, params.cq_off.tail);
  cq_mask_ = At<uint32_t>(rings_, params.cq_off.ring_mask);
  cqes_ = At<void>(rings_, params.cq_off.cqes);
  return true;
}

int TunWriteRing::WriteUnits(int fd, const TunWriteUnit* units, uint32_t count) {
  if (ring_fd_ < 0 || fd < 0 || count == 0 || count > kRunLength) return -EINVAL;
  auto* sqes = static_cast<struct io_uring_sqe*>(sqes_);
  uint32_t tail = *sq_tail_;
  for (uint32_t i = 0; i < count; i++) {
    uint32_t index = (tail + i) & *sq_mask_;
    struct io_uring_sqe* sqe = &sqes[index];
    memset(sqe, 0, sizeof(*sqe));
    sqe->opcode = IORING_OP_WRITEV;
    // Not a registered file: that would hold the TUN device open until the kernel's deferred
    // ring teardown, so close() would no longer remove it at once.
    sqe->fd = fd;
    sqe->addr = reinterpret_cast<uint64_t>(units[i].iov);
    sqe->len = static_cast<uint32_t>(units[i].iov_count);
    sqe->off = static_cast<uint64_t>(-1);  // a character device: no file position
    // Never park a write on a poll or a worker thread: a full device answers -EAGAIN at once,
    // as write() on the non-blocking descriptor would, so the run always completes in this call.
    sqe->rw_flags = RWF_NOWAIT;
    sqe->user_data = i;
    sq_array_[index] = index;
    results_[i] = -ECANCELED;
  }
  __atomic_store_n(sq_tail_, tail + count, __ATOMIC_RELEASE);

  int entered;
  do {
    entered = EnterRing(ring_fd_, count, count);
  } while (entered < 0 && errno == EINTR);
  int err = entered < 0 ? errno : 0;

  uint32_t head = *cq_head_;
  uint32_t cq_tail = __atomic_load_n(cq_tail_, __ATOMIC_ACQUIRE);
  auto* cqes = static_cast<struct io_uring_cqe*>(cqes_);
  for (; head != cq_tail; head++) {
    const struct io_uring_cqe& cqe = cqes[head & *cq_mask_];
    if (cqe.user_data < count) results_[cqe.user_data] = cqe.res;
  }
  __atomic_store_n(cq_head_, head, __ATOMIC_RELEASE);
  if (err == 0 && static_cast<uint32_t>(entered) < count) err = EIO;  // not all taken: give up the ring
  // A kernel whose io_uring cannot do this write without blocking (no RWF_NOWAIT for the device)
  // would refuse every run: give the ring up after the first.
  for (uint32_t i = 0; err == 0 && i < count; i++) {
    if (results_[i] == -EOPNOTSUPP || results_[i] == -EBADF) err = -results_[i];
  }
  if (err != 0) {
    Close();
    failed_ = true;
    return -err;
  }
  return 0;
}

void TunWriteRing::Unmap() {
  if (sqes_ != nullptr) munmap(sqes_, sqes_bytes_);
  if (rings_ != nullptr) munmap(rings_, rings_bytes_);
  sqes_ = nullptr;
  rings_ = nullptr;
}

void TunWriteRing::Close() {
  Unmap();
  if (ring_fd_ >= 0) close(ring_fd_);
  ring_fd_ = -1;
  failed_ = true;
}

}  // namespace tunnel_native
