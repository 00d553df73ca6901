#include "esp-binding.h"

#include <string>

#include "batch-view.h"
#include "esp-batch.h"
#include "system-error.h"

namespace tunnel_native {

namespace {

// Marks EspSa objects, so an inbound table only ever takes a real SA.
constexpr napi_type_tag kEspSaTag = {0x5e1a0c93d2b74f18ULL, 0xa3c6e2519f0b7d44ULL};
// Marks EspInbound objects, so a fast route only ever takes a real inbound table.
constexpr napi_type_tag kEspInboundTag = {0x2b6f4e81c07d93a5ULL, 0x91d3a7e45c2f086bULL};

// The bytes of a Uint8Array holding at least `min_length` of them, or null.
uint8_t* Bytes(const Napi::Value& value, size_t min_length, size_t* length = nullptr) {
  if (!value.IsTypedArray()) return nullptr;
  Napi::TypedArray array = value.As<Napi::TypedArray>();
  if (array.TypedArrayType() != napi_uint8_array || array.ElementLength() < min_length) return nullptr;
  if (length != nullptr) *length = array.ElementLength();
  return static_cast<uint8_t*>(array.ArrayBuffer().Data()) + array.ByteOffset();
}

bool Uint32Argument(const Napi::Value& value, uint64_t max, uint64_t* out) {
  if (!value.IsNumber()) return false;
  double number = value.As<Napi::Number>().DoubleValue();
  if (!(number >= 0 && number <= static_cast<double>(max)) || number != static_cast<double>(static_cast<uint64_t>(number))) {
    return false;
  }
  *out = static_cast<uint64_t>(number);
  return true;
}

// The batch, count and per-slot arrays of seal() and open(); null with a TypeError pending.
struct BatchArguments {
  BatchView* batch = nullptr;
  uint32_t count = 0;
  uint8_t* next_headers = nullptr;
  uint8_t* outcomes = nullptr;
};

bool ParseBatchArguments(const Napi::CallbackInfo& info, BatchArguments* out) {
  Napi::Env env = info.Env();
  out->batch = UnwrapBatch(env, info[0]);
  if (out->batch == nullptr) return false;
  uint64_t count = 0;
  if (!Uint32Argument(info[1], out->batch->capacity, &count)) {
    ThrowArgumentError(env, "count must be an integer from 0 to the batch capacity");
    return false;
  }
  out->count = static_cast<uint32_t>(count);
  out->next_headers = Bytes(info[2], out->count);
  out->outcomes = Bytes(info[3], out->count);
  if (out->next_headers == nullptr || out->outcomes == nullptr) {
    ThrowArgumentError(env, "nextHeaders and outcomes must be Uint8Arrays of at least count bytes");
    return false;
  }
  return true;
}

}  // namespace

Napi::Function EspSaHandle::Define(Napi::Env env) {
  return DefineClass(env, "EspSa",
                     {
                         InstanceMethod<&EspSaHandle::Seal>("seal"),
                         InstanceMethod<&EspSaHandle::Counters>("counters"),
                         InstanceMethod<&EspSaHandle::Close>("close"),
                     });
}

EspSaHandle::EspSaHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<EspSaHandle>(info) {
  Napi::Env env = info.Env();
  EspSecurityAssociation::Config config;
  uint64_t spi = 0, aead = 0, first = 0, rekey = 0;
  size_t key_length = 0;
  const uint8_t* key = Bytes(info[2], 1, &key_length);
  if (info.Length() < 6 || !Uint32Argument(info[0], UINT32_MAX, &spi) || !Uint32Argument(info[1], 255, &aead) ||
      key == nullptr || !Uint32Argument(info[3], UINT32_MAX, &first) ||
      !Uint32Argument(info[4], uint64_t{1} << 32, &rekey)) {
    ThrowArgumentError(env, "EspSa: expected spi, aead, key, firstSequence, rekeySequence, ivMask");
    return;
  }
  if (!info[5].IsNull()) {
    const uint8_t* mask = Bytes(info[5], EspAeadCipher::kIvBytes);
    if (mask == nullptr) {
      ThrowArgumentError(env, "EspSa: ivMask must be 8 bytes or null");
      return;
    }
    config.iv_mask_given = true;
    memcpy(config.iv_mask, mask, EspAeadCipher::kIvBytes);
  }
  config.spi = static_cast<uint32_t>(spi);
  config.aead = static_cast<EspAead>(aead);
  config.first_sequence = static_cast<uint32_t>(first);
  config.rekey_sequence = rekey;
  const char* error = "refused";
  sa_ = EspSecurityAssociation::Create(config, key, key_length, &error);
  if (!sa_) {
    Napi::Error::New(env, std::string("EspSa: ") + error).ThrowAsJavaScriptException();
    return;
  }
  napi_type_tag_object(env, info.This(), &kEspSaTag);
}

Napi::Value EspSaHandle::Seal(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!sa_) {
    ThrowClosedError(env);
    return env.Undefined();
  }
  BatchArguments args;
  if (!ParseBatchArguments(info, &args)) return env.Undefined();
  uint32_t sealed = EspSealBatch(*sa_, args.batch->Slots(), args.count, args.next_headers, args.outcomes);
  return Napi::Number::New(env, sealed);
}

Napi::Value EspSaHandle::Counters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!sa_) {
    ThrowClosedError(env);
    return env.Undefined();
  }
  std::unique_lock<std::mutex> guard(sa_->mutex());
  const EspCounters& c = sa_->Counters();
  const double values[] = {
      static_cast<double>(c.sealed_packets), static_cast<double>(c.sealed_bytes), static_cast<double>(c.seal_no_room),
      static_cast<double>(c.seal_exhausted), static_cast<double>(c.cipher_errors), static_cast<double>(c.opened_packets),
      static_cast<double>(c.opened_bytes),   static_cast<double>(c.auth_failed),  static_cast<double>(c.replayed),
      static_cast<double>(c.malformed),      static_cast<double>(sa_->LastSequence()),
      static_cast<double>(sa_->Window().Highest()), sa_->RekeyDue() ? 1.0 : 0.0,
  };
  guard.unlock();
  Napi::Array array = Napi::Array::New(env, sizeof(values) / sizeof(values[0]));
  for (uint32_t i = 0; i < array.Length(); i++) array.Set(i, Napi::Number::New(env, values[i]));
  return array;
}

Napi::Value EspSaHandle::Close(const Napi::CallbackInfo& info) {
  // An inbound table holding the SA keeps it until removed; only this handle lets go.
  sa_.reset();
  return info.Env().Undefined();
}

Napi::Function EspInboundHandle::Define(Napi::Env env) {
  return DefineClass(env, "EspInbound",
                     {
                         InstanceMethod<&EspInboundHandle::Add>("add"),
                         InstanceMethod<&EspInboundHandle::Remove>("remove"),
                         InstanceMethod<&EspInboundHandle::Open>("open"),
                         InstanceMethod<&EspInboundHandle::Counters>("counters"),
                         InstanceMethod<&EspInboundHandle::Close>("close"),
                     });
}

EspInboundHandle::EspInboundHandle(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<EspInboundHandle>(info), table_(std::make_shared<EspInboundTable>()) {
  napi_type_tag_object(info.Env(), info.This(), &kEspInboundTag);
}

Napi::Value EspInboundHandle::Add(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!table_) {
    ThrowClosedError(env);
    return env.Undefined();
  }
  bool tagged = false;
  if (info[0].IsObject()) napi_check_object_type_tag(env, info[0], &kEspSaTag, &tagged);
  EspSaHandle* handle = tagged ? EspSaHandle::Unwrap(info[0].As<Napi::Object>()) : nullptr;
  if (handle == nullptr || !handle->Sa()) {
    ThrowArgumentError(env, "EspInbound.add: expected an open EspSa");
    return env.Undefined();
  }
  {
    std::lock_guard<std::mutex> guard(table_->mutex());
    table_->Add(handle->Sa());
  }
  return env.Undefined();
}

Napi::Value EspInboundHandle::Remove(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!table_) {
    ThrowClosedError(env);
    return env.Undefined();
  }
  uint64_t spi = 0;
  if (!Uint32Argument(info[0], UINT32_MAX, &spi)) {
    ThrowArgumentError(env, "EspInbound.remove: expected an SPI");
    return env.Undefined();
  }
  bool removed;
  {
    std::lock_guard<std::mutex> guard(table_->mutex());
    removed = table_->Remove(static_cast<uint32_t>(spi));
  }
  return Napi::Boolean::New(env, removed);
}

Napi::Value EspInboundHandle::Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!table_) {
    ThrowClosedError(env);
    return env.Undefined();
  }
  BatchArguments args;
  if (!ParseBatchArguments(info, &args)) return env.Undefined();
  uint32_t opened = EspOpenBatch(*table_, args.batch->Slots(), args.count, args.next_headers, args.outcomes);
  return Napi::Number::New(env, opened);
}

Napi::Value EspInboundHandle::Counters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!table_) {
    ThrowClosedError(env);
    return env.Undefined();
  }
  double unknown_spi, truncated, size;
  {
    std::lock_guard<std::mutex> guard(table_->mutex());
    unknown_spi = static_cast<double>(table_->unknown_spi);
    truncated = static_cast<double>(table_->truncated);
    size = static_cast<double>(table_->Size());
  }
  Napi::Array array = Napi::Array::New(env, 3);
  array.Set(0u, Napi::Number::New(env, unknown_spi));
  array.Set(1u, Napi::Number::New(env, truncated));
  array.Set(2u, Napi::Number::New(env, size));
  return array;
}

Napi::Value EspInboundHandle::Close(const Napi::CallbackInfo& info) {
  table_.reset();
  return info.Env().Undefined();
}

Napi::Function EspReplayWindowHandle::Define(Napi::Env env) {
  return DefineClass(env, "EspReplayWindow",
                     {
                         InstanceMethod<&EspReplayWindowHandle::Check>("check"),
                         InstanceMethod<&EspReplayWindowHandle::Accept>("accept"),
                         InstanceMethod<&EspReplayWindowHandle::Highest>("highest"),
                     });
}

EspReplayWindowHandle::EspReplayWindowHandle(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<EspReplayWindowHandle>(info) {}

Napi::Value EspReplayWindowHandle::Check(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t sequence = 0;
  if (!Uint32Argument(info[0], UINT32_MAX, &sequence)) {
    ThrowArgumentError(env, "EspReplayWindow.check: expected a 32-bit sequence number");
    return env.Undefined();
  }
  return Napi::Number::New(env, static_cast<double>(window_.Check(static_cast<uint32_t>(sequence))));
}

Napi::Value EspReplayWindowHandle::Accept(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t sequence = 0;
  if (!Uint32Argument(info[0], UINT32_MAX, &sequence) || sequence == 0) {
    ThrowArgumentError(env, "EspReplayWindow.accept: expected a sequence number from 1 to 2^32 - 1");
    return env.Undefined();
  }
  window_.Accept(static_cast<uint32_t>(sequence));
  return env.Undefined();
}

Napi::Value EspReplayWindowHandle::Highest(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), window_.Highest());
}

std::shared_ptr<EspSecurityAssociation> UnwrapEspSa(Napi::Env env, const Napi::Value& value) {
  bool tagged = false;
  if (value.IsObject()) napi_check_object_type_tag(env, value, &kEspSaTag, &tagged);
  return tagged ? EspSaHandle::Unwrap(value.As<Napi::Object>())->Sa() : nullptr;
}

std::shared_ptr<EspInboundTable> UnwrapEspInbound(Napi::Env env, const Napi::Value& value) {
  bool tagged = false;
  if (value.IsObject()) napi_check_object_type_tag(env, value, &kEspInboundTag, &tagged);
  return tagged ? EspInboundHandle::Unwrap(value.As<Napi::Object>())->Table() : nullptr;
}

void RegisterEsp(Napi::Env env, Napi::Object exports) {
  exports.Set("EspSa", EspSaHandle::Define(env));
  exports.Set("EspInbound", EspInboundHandle::Define(env));
  exports.Set("EspReplayWindow", EspReplayWindowHandle::Define(env));
  exports.Set("espReplayWindowSize", Napi::Number::New(env, EspReplayWindow::kSize));
}

}  // namespace tunnel_native
