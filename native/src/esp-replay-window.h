// The ESP anti-replay window (RFC 4303 §3.4.3) for 32-bit sequence numbers: a ring of 64-bit
// blocks that is never shifted (RFC 6479), so a packet costs a few loads and stores however far
// the window moves. Pure: no I/O, no allocation; tested through the addon against a model.
#pragma once

#include <stdint.h>
#include <string.h>

namespace tunnel_native {

class EspReplayWindow {
 public:
  // Sequence numbers accepted below the highest one seen (that one included). 1024 costs 136
  // bytes per inbound SA and tolerates about a millisecond of reordering at 1 Mpps (several
  // forwarding queues on the sender, several paths), where the kernel's default of 32 would drop.
  static constexpr uint32_t kSize = 1024;

  enum class Verdict : uint8_t { kFresh = 0, kDuplicate = 1, kStale = 2 };

  // Whether `sequence` may be accepted; changes nothing. Zero is never sent (RFC 4303 §3.3.3),
  // so it is stale.
  Verdict Check(uint32_t sequence) const {
    if (sequence == 0) return Verdict::kStale;
    if (sequence > highest_) return Verdict::kFresh;
    if (highest_ - sequence >= kSize) return Verdict::kStale;
    return (blocks_[BlockOf(sequence)] & BitOf(sequence)) != 0 ? Verdict::kDuplicate : Verdict::kFresh;
  }

  // Records `sequence` as received; call only after Check said kFresh and the ICV verified.
  void Accept(uint32_t sequence) {
    if (sequence > highest_) {
      // Clear the blocks the window moves into: at most the whole ring.
      uint32_t from = highest_ >> 6;
      uint32_t to = sequence >> 6;
      uint32_t steps = to - from;
      if (steps >= kBlocks) {
        memset(blocks_, 0, sizeof(blocks_));
      } else {
        for (uint32_t block = from + 1; block <= to; block++) blocks_[block % kBlocks] = 0;
      }
      highest_ = sequence;
    }
    blocks_[BlockOf(sequence)] |= BitOf(sequence);
  }

  // The highest sequence number accepted so far (0 before the first).
  uint32_t Highest() const { return highest_; }

 private:
  // One block more than the window: the block being filled may hold sequence numbers above the
  // window's lowest ones' block without overwriting them.
  static constexpr uint32_t kBlocks = kSize / 64 + 1;
  static uint32_t BlockOf(uint32_t sequence) { return (sequence >> 6) % kBlocks; }
  static uint64_t BitOf(uint32_t sequence) { return uint64_t{1} << (sequence & 63); }

  uint32_t highest_ = 0;
  uint64_t blocks_[kBlocks] = {};
};

}  // namespace tunnel_native
