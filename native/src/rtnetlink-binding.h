// The N-API surface of the rtnetlink batches (native/rtnetlink.ts wraps it). Requests are plain
// objects: { op, link, value, family, prefixLength, address, peer, unreachable, exclusive, nodad,
// alias }, op one of "set-mtu", "set-mac", "set-up", "add-address", "delete-address", "replace-route", "delete-route",
// "delete-link", "set-ipv4-forwarding", "set-ipv6-forwarding", "mark-link" (value: the group),
// "delete-link-group" (value: the group, no link); addresses as 4- or 16-byte Uint8Arrays, a MAC
// as 6 bytes.
// Each result is [errno, its text, extended ack message]; errno 0 is done. A batch that cannot run at all
// (no socket, a failed send) throws or rejects with an Error carrying errno, code and syscall.
#pragma once

#include <napi.h>

namespace tunnel_native {

// rtnetlinkBatch(requests) -> Promise<[errno, text, message][]>, run on the libuv thread pool.
Napi::Value RtnetlinkBatch(const Napi::CallbackInfo& info);

// rtnetlinkListLinks(prefix) -> Promise<[name, index, group, alias][]>, run on the libuv thread pool.
Napi::Value RtnetlinkListLinks(const Napi::CallbackInfo& info);

}  // namespace tunnel_native
