// Errors handed back to JavaScript. The addon never throws C++ exceptions: it sets a pending JS
// exception carrying errno/code/syscall, and native/index.ts maps it to a TunnelError.
#pragma once

#include <napi.h>

namespace tunnel_native {

// An Error with `errno`, `code` (e.g. "EPERM") and `syscall` properties (for a promise to reject with).
Napi::Error SystemError(Napi::Env env, const char* syscall, int err);

// Throws SystemError(env, syscall, err).
void ThrowSystemError(Napi::Env env, const char* syscall, int err);

// Throws an Error with `closed: true`: the descriptor was already closed.
void ThrowClosedError(Napi::Env env);

// Throws a TypeError for an argument the JS side should have validated.
void ThrowArgumentError(Napi::Env env, const char* message);

}  // namespace tunnel_native
