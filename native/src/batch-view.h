// Raw pointers into a JS-owned PacketBatchMemory, taken once so each batched call only unwraps one
// object instead of querying five typed arrays.
#pragma once

#include <napi.h>
#include <stdint.h>

#include <vector>

#include "packet-slots.h"

namespace tunnel_native {

class BatchView : public Napi::ObjectWrap<BatchView> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit BatchView(const Napi::CallbackInfo& info);

  // False once any backing ArrayBuffer has been detached (transferred): the pointers are stale.
  bool Usable(Napi::Env env) const;

  PacketSlots Slots() const { return {data, offsets, lengths, addrs, ports, capacity, slot_size}; }

  uint8_t* data = nullptr;
  uint32_t* offsets = nullptr;
  uint32_t* lengths = nullptr;
  uint32_t* addrs = nullptr;
  uint16_t* ports = nullptr;
  uint32_t capacity = 0;
  uint32_t slot_size = 0;

 private:
  // Keeps the backing stores alive for as long as the view holds pointers into them.
  std::vector<Napi::Reference<Napi::ArrayBuffer>> buffers_;
};

}  // namespace tunnel_native
