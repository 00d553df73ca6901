// Raw pointers into a JS-owned PacketBatchMemory, taken once so each batched call only unwraps one
// object instead of querying five typed arrays.
#pragma once

#include <napi.h>
#include <stdint.h>

#include <vector>

#include "packet-slots.h"

namespace tunnel_native {

// The slot pointers (PacketSlots) are filled in once by the constructor.
class BatchView : public Napi::ObjectWrap<BatchView>, public PacketSlots {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit BatchView(const Napi::CallbackInfo& info);

  // False once any backing ArrayBuffer has been detached (transferred): the pointers are stale.
  bool Usable(Napi::Env env) const;

  const PacketSlots& Slots() const { return *this; }

 private:
  // Keeps the backing stores alive for as long as the view holds pointers into them.
  std::vector<Napi::Reference<Napi::ArrayBuffer>> buffers_;
};

// The BatchView `value` wraps, or null with a JS TypeError pending when it is not one or its
// memory was detached.
BatchView* UnwrapBatch(Napi::Env env, const Napi::Value& value);

}  // namespace tunnel_native
