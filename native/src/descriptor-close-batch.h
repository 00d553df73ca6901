// Closing endpoints with the kernel's part of it off the event loop. Closing a TUN's last
// descriptor unregisters its network device under the rtnl lock and waits for an RCU grace
// period: about 20 ms per device on a host with thousands. The endpoints stop at once on the JS
// thread (watches, forwarding, callbacks); their descriptors are closed on a libuv pool thread.
#pragma once

#include <napi.h>

namespace tunnel_native {

// closeEndpoints(endpoints: PacketEndpoint[]) -> Promise<void>, resolved once every descriptor
// is closed. Endpoints closed already are skipped.
Napi::Value CloseEndpoints(const Napi::CallbackInfo& info);

}  // namespace tunnel_native
