// Opening TUN (and TAP) devices, one or many at a time. TUNSETIFF registers the network device
// under the kernel's rtnl lock, which takes a millisecond or more per device on a host with
// thousands of them, so a hub opens its devices in batches on a libuv pool thread and the event
// loop only wraps the descriptors that come back.
#pragma once

#include <napi.h>

#include <string>
#include <vector>

namespace tunnel_native {

// One device to open.
struct TunOpenRequest {
  std::string name;
  bool multi_queue = false;
  // IFF_VNET_HDR with TSO4/TSO6 and checksum offloads; a kernel that refuses gets a plain TUN.
  bool offload = false;
  bool tap = false;
  // IFF_TUN_EXCL: refuse (EBUSY) a device of that name that exists already, whatever it is,
  // instead of attaching to a persistent TUN someone else made.
  bool exclusive = false;
  uint32_t queues = 1;
};

// What became of it: the descriptors (queue 0 first) and the kernel's name, or an errno and the
// call that failed (nothing is left open then).
struct TunOpenResult {
  int error = 0;
  const char* syscall = "";
  std::vector<int> fds;
  std::string name;
  bool offload = false;
};

// Opens one device. Plain C++ with no N-API: runs on any thread.
void OpenTunDevice(const TunOpenRequest& request, TunOpenResult* result);

// Reads openTun's arguments (name, multiQueue, offload, tap, queues, exclusive) starting at
// argument `first` of `info`; false with a TypeError pending when they are malformed.
bool ParseTunOpenRequest(const Napi::CallbackInfo& info, const Napi::Value& name, const Napi::Value& multi_queue,
                         const Napi::Value& offload, const Napi::Value& tap, const Napi::Value& queues,
                         const Napi::Value& exclusive, TunOpenRequest* request);

// Wraps an opened device as a PacketEndpoint: [endpoint, kernelName, offload]; undefined with an
// exception pending when wrapping failed (the descriptors are closed then).
Napi::Value WrapOpenedTun(Napi::Env env, TunOpenResult& opened);

// openTuns([{ name, multiQueue, offload, tap, queues, exclusive }, ...])
//   -> Promise<([endpoint, kernelName, offload] | [null, errno, syscall])[]>
// Opens every device in order on a libuv pool thread; each gets its own outcome.
Napi::Value OpenTuns(const Napi::CallbackInfo& info);

}  // namespace tunnel_native
