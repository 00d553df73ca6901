// Opening the three kinds of packet descriptor. Each returns a PacketEndpoint JS object, or
// leaves a JS exception (with errno/syscall) pending and returns undefined.
#pragma once

#include <napi.h>

namespace tunnel_native {

// openTun(name: string, multiQueue: boolean) -> [endpoint, kernelName]
Napi::Value OpenTun(const Napi::CallbackInfo& info);

// openRawSocket(protocol: number, localAddress: uint32, ttl: number, bufferBytes: number) -> endpoint
Napi::Value OpenRawSocket(const Napi::CallbackInfo& info);

// openUdpSocket(localAddress: uint32, port: number, ttl: number, bufferBytes: number, reuseAddress: boolean)
//   -> endpoint
Napi::Value OpenUdpSocket(const Napi::CallbackInfo& info);

}  // namespace tunnel_native
