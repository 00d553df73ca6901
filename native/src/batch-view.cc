#include "batch-view.h"

#include "addon-data.h"
#include "system-error.h"

namespace tunnel_native {

namespace {

// Returns a pointer to the array's first element when it is a typed array of `type` holding at
// least `min_elements`, else nullptr.
void* TypedArrayData(const Napi::Value& value, napi_typedarray_type type, size_t min_elements,
                     std::vector<Napi::Reference<Napi::ArrayBuffer>>& keep) {
  if (!value.IsTypedArray()) return nullptr;
  Napi::TypedArray array = value.As<Napi::TypedArray>();
  if (array.TypedArrayType() != type || array.ElementLength() < min_elements) return nullptr;
  Napi::ArrayBuffer buffer = array.ArrayBuffer();
  // One reference per distinct backing store: a batch laid out in one ArrayBuffer costs one
  // detach check per call.
  bool known = false;
  for (const auto& ref : keep) known = known || ref.Value().StrictEquals(buffer);
  if (!known) keep.push_back(Napi::Persistent(buffer));
  return static_cast<uint8_t*>(buffer.Data()) + array.ByteOffset();
}

}  // namespace

Napi::Function BatchView::Define(Napi::Env env) {
  return DefineClass(env, "BatchView", {});
}

// new BatchView(data: Uint8Array, offsets: Uint32Array, lengths: Uint32Array,
//               addrs: Uint32Array, ports: Uint16Array, capacity: number, slotSize: number,
//               addrs6: Uint8Array)
BatchView::BatchView(const Napi::CallbackInfo& info) : Napi::ObjectWrap<BatchView>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 8 || !info[5].IsNumber() || !info[6].IsNumber()) {
    ThrowArgumentError(env, "BatchView: expected 5 typed arrays, capacity, slotSize and addrs6");
    return;
  }
  int64_t capacity = info[5].As<Napi::Number>().Int64Value();
  int64_t slot_size = info[6].As<Napi::Number>().Int64Value();
  if (capacity < 1 || capacity > 1024 || slot_size < 1 || slot_size > (1 << 20)) {
    ThrowArgumentError(env, "BatchView: capacity or slotSize out of range");
    return;
  }
  size_t cap = static_cast<size_t>(capacity);
  data = static_cast<uint8_t*>(
      TypedArrayData(info[0], napi_uint8_array, cap * static_cast<size_t>(slot_size), buffers_));
  offsets = static_cast<uint32_t*>(TypedArrayData(info[1], napi_uint32_array, cap, buffers_));
  lengths = static_cast<uint32_t*>(TypedArrayData(info[2], napi_uint32_array, cap, buffers_));
  addrs = static_cast<uint32_t*>(TypedArrayData(info[3], napi_uint32_array, cap, buffers_));
  ports = static_cast<uint16_t*>(TypedArrayData(info[4], napi_uint16_array, cap, buffers_));
  addrs6 = static_cast<uint8_t*>(TypedArrayData(info[7], napi_uint8_array, cap * 16, buffers_));
  if (!data || !offsets || !lengths || !addrs || !ports || !addrs6) {
    ThrowArgumentError(env, "BatchView: a batch array has the wrong type or is too short");
    return;
  }
  this->capacity = static_cast<uint32_t>(capacity);
  this->slot_size = static_cast<uint32_t>(slot_size);
}

bool BatchView::Usable(Napi::Env env) const {
  if (capacity == 0) return false;
  for (const auto& ref : buffers_) {
    bool detached = false;
    if (napi_is_detached_arraybuffer(env, ref.Value(), &detached) != napi_ok || detached) return false;
  }
  return true;
}

BatchView* UnwrapBatch(Napi::Env env, const Napi::Value& value) {
  if (!value.IsObject()) {
    ThrowArgumentError(env, "expected a batch view");
    return nullptr;
  }
  bool tagged = false;
  napi_check_object_type_tag(env, value, &kBatchViewTag, &tagged);
  if (!tagged) {
    ThrowArgumentError(env, "expected a batch view");
    return nullptr;
  }
  BatchView* batch = BatchView::Unwrap(value.As<Napi::Object>());
  if (batch == nullptr || !batch->Usable(env)) {
    if (!env.IsExceptionPending()) ThrowArgumentError(env, "batch memory is no longer usable");
    return nullptr;
  }
  return batch;
}

}  // namespace tunnel_native
