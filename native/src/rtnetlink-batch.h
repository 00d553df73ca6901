// Runs a batch of rtnetlink requests on a NETLINK_ROUTE socket of its own and collects every
// acknowledgement, and lists links. Plain C++ with no N-API, so it runs on a libuv pool thread as
// well as on the JS thread (rtnetlink-binding.cc).
#pragma once

#include <string>
#include <vector>

#include "rtnetlink-request.h"

namespace tunnel_native {

// What the kernel answered to one request: errno 0 for done, else its errno and its extended ack
// message (NLMSGERR_ATTR_MSG, often empty).
struct RtnetlinkResult {
  int error = 0;
  std::string message;
};

// A failure of the batch as a whole (no socket, a failed send or receive): errno and the call.
struct RtnetlinkFailure {
  int error = 0;
  const char* syscall = "";
};

// Sends the requests in order, many per sendmsg, each with NLM_F_ACK, and fills one result per
// request. The kernel handles each request inside the send, in order, and goes on after a refusal.
// Returns false (with `failure` set) when the batch could not run; requests not yet answered then
// have no result.
bool RunRtnetlinkBatch(const std::vector<RtnetlinkRequest>& requests, std::vector<RtnetlinkResult>* results,
                       RtnetlinkFailure* failure);

struct LinkEntry {
  std::string name;
  int index = 0;
  // The link's group (0: the default) and alias (empty: none), which say whose device it is.
  uint32_t group = 0;
  std::string alias;
};

// Every link whose name starts with `prefix` (RTM_GETLINK dump), with its group and alias.
// Returns false on failure.
bool ListRtnetlinkLinks(const std::string& prefix, std::vector<LinkEntry>* links, RtnetlinkFailure* failure);

}  // namespace tunnel_native
