// Opening the three kinds of packet descriptor. Each returns a PacketEndpoint JS object, or
// leaves a JS exception (with errno/syscall) pending and returns undefined.
#pragma once

#include <napi.h>

namespace tunnel_native {

// openTun(name: string, multiQueue: boolean, offload: boolean, tap: boolean, queues: number,
//         exclusive: boolean) -> [endpoint, kernelName, offload], on the calling thread
//   (tun-open-batch.h opens many off the event loop)
Napi::Value OpenTun(const Napi::CallbackInfo& info);

// Addresses: a number is IPv4 (host order), a 16-byte Uint8Array IPv6.
// openRawSocket(protocol: number, localAddress, ttl: number, bufferBytes: number) -> endpoint
Napi::Value OpenRawSocket(const Napi::CallbackInfo& info);

// openUdpSocket(localAddress, port: number, ttl: number, bufferBytes: number, reuseAddress: boolean,
//               segmentBytes: number, receiveOffload: boolean) -> endpoint
Napi::Value OpenUdpSocket(const Napi::CallbackInfo& info);

// pathMtus(localAddress, [remoteAddress, ...]) -> Int32Array: the kernel's current path MTU toward
// each remote (its route's MTU, or what ICMP taught it since), read through one UDP socket
// connected to each in turn that sends nothing; -errno where the kernel refused one.
Napi::Value PathMtus(const Napi::CallbackInfo& info);

}  // namespace tunnel_native
