// The addon's ESP surface for JS (native/esp.ts): security associations, an inbound table and the
// replay window, each a thin wrapper over the classes the forwarding thread uses, so JS-sent
// packets (keepalives, hellos) and tests run the one implementation. No key byte ever leaves.
#pragma once

#include <napi.h>

#include <memory>

#include "esp-inbound-table.h"
#include "esp-replay-window.h"
#include "esp-security-association.h"

namespace tunnel_native {

// new EspSa(spi, aead, key, firstSequence, rekeySequence, ivMask | null)
class EspSaHandle : public Napi::ObjectWrap<EspSaHandle> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit EspSaHandle(const Napi::CallbackInfo& info);

  // The SA, or null once closed.
  const std::shared_ptr<EspSecurityAssociation>& Sa() const { return sa_; }

 private:
  // seal(view, count, nextHeaders: Uint8Array, outcomes: Uint8Array) -> sealed count
  Napi::Value Seal(const Napi::CallbackInfo& info);
  // [sealed, sealed bytes, no room, exhausted, cipher errors, opened, opened bytes, auth failed,
  //  replayed, malformed, last sequence sent, highest sequence received, rekey due (0/1)]
  Napi::Value Counters(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  std::shared_ptr<EspSecurityAssociation> sa_;
};

// new EspInbound()
class EspInboundHandle : public Napi::ObjectWrap<EspInboundHandle> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit EspInboundHandle(const Napi::CallbackInfo& info);

  // The table, or null once closed (a fast route holding it keeps it).
  const std::shared_ptr<EspInboundTable>& Table() const { return table_; }

 private:
  // add(sa: EspSa): adds or replaces the SA for its SPI
  Napi::Value Add(const Napi::CallbackInfo& info);
  // remove(spi) -> whether one was there
  Napi::Value Remove(const Napi::CallbackInfo& info);
  // open(view, count, nextHeaders: Uint8Array, outcomes: Uint8Array) -> opened count
  Napi::Value Open(const Napi::CallbackInfo& info);
  // [unknown SPI, truncated, SAs held]
  Napi::Value Counters(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  std::shared_ptr<EspInboundTable> table_;
};

// new EspReplayWindow(): the window Open uses, alone, for property tests.
class EspReplayWindowHandle : public Napi::ObjectWrap<EspReplayWindowHandle> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit EspReplayWindowHandle(const Napi::CallbackInfo& info);

 private:
  // check(sequence) -> 0 fresh, 1 duplicate, 2 stale
  Napi::Value Check(const Napi::CallbackInfo& info);
  Napi::Value Accept(const Napi::CallbackInfo& info);
  Napi::Value Highest(const Napi::CallbackInfo& info);

  EspReplayWindow window_;
};

// The SA behind an EspSa object, or null (not one, or closed).
std::shared_ptr<EspSecurityAssociation> UnwrapEspSa(Napi::Env env, const Napi::Value& value);
// The table behind an EspInbound object, or null (not one, or closed).
std::shared_ptr<EspInboundTable> UnwrapEspInbound(Napi::Env env, const Napi::Value& value);

// Adds EspSa, EspInbound, EspReplayWindow and espReplayWindowSize to the addon's exports.
void RegisterEsp(Napi::Env env, Napi::Object exports);

}  // namespace tunnel_native
