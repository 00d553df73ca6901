#include "system-error.h"

#include <string.h>
#include <uv.h>

#include <string>

namespace tunnel_native {

Napi::Error SystemError(Napi::Env env, const char* syscall, int err) {
  char text[128];
  // GNU strerror_r returns the message pointer, which may or may not be `text`.
  const char* message = strerror_r(err, text, sizeof(text));
  Napi::Error error = Napi::Error::New(env, std::string(syscall) + ": " + message);
  error.Set("errno", Napi::Number::New(env, err));
  error.Set("code", Napi::String::New(env, uv_err_name(-err)));
  error.Set("syscall", Napi::String::New(env, syscall));
  return error;
}

void ThrowSystemError(Napi::Env env, const char* syscall, int err) {
  SystemError(env, syscall, err).ThrowAsJavaScriptException();
}

void ThrowClosedError(Napi::Env env) {
  Napi::Error error = Napi::Error::New(env, "descriptor is closed");
  error.Set("closed", Napi::Boolean::New(env, true));
  error.ThrowAsJavaScriptException();
}

void ThrowArgumentError(Napi::Env env, const char* message) {
  Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
}

}  // namespace tunnel_native
