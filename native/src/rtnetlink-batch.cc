#include "rtnetlink-batch.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <utility>
#include <unordered_map>

namespace tunnel_native {

namespace {

// Requests per sendmsg: their acks (with extended ack messages) fit the receive queue with room.
constexpr size_t kRequestsPerSend = 128;
// Name lookups per sendmsg: each answer is a whole link message (about 1 KB without statistics).
constexpr size_t kLookupsPerSend = 32;
constexpr size_t kReceiveBytes = 64 * 1024;
// The kernel answers inside the send; this only bounds a receive that would otherwise never end.
constexpr int kReceiveTimeoutMs = 10000;

// A NETLINK_ROUTE socket with extended acks (the kernel's reason as text) and capped acks (the
// request is not echoed back), closed when it goes out of scope.
class RouteSocket {
 public:
  bool Open(RtnetlinkFailure* failure) {
    fd_ = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd_ < 0) return Fail(failure, "socket NETLINK_ROUTE");
    int one = 1;
    // Both are optional: an old kernel without them still answers, with less to say.
    setsockopt(fd_, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
    setsockopt(fd_, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
    sockaddr_nl local = {};
    local.nl_family = AF_NETLINK;
    if (bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) return Fail(failure, "bind NETLINK_ROUTE");
    return true;
  }

  ~RouteSocket() {
    if (fd_ >= 0) close(fd_);
  }

  bool Send(const std::vector<uint8_t>& messages, RtnetlinkFailure* failure) {
    sockaddr_nl kernel = {};
    kernel.nl_family = AF_NETLINK;
    for (;;) {
      ssize_t sent = sendto(fd_, messages.data(), messages.size(), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof(kernel));
      if (sent >= 0) return true;
      if (errno != EINTR) return Fail(failure, "sendto NETLINK_ROUTE");
    }
  }

  // Receives one datagram (one or more netlink messages); 0 bytes never means success.
  ssize_t Receive(uint8_t* buffer, size_t size, RtnetlinkFailure* failure) {
    for (;;) {
      pollfd ready = {fd_, POLLIN, 0};
      int polled = poll(&ready, 1, kReceiveTimeoutMs);
      if (polled == 0) {
        errno = ETIMEDOUT;
        Fail(failure, "poll NETLINK_ROUTE");
        return -1;
      }
      if (polled < 0 && errno == EINTR) continue;
      if (polled < 0) {
        Fail(failure, "poll NETLINK_ROUTE");
        return -1;
      }
      ssize_t received = recv(fd_, buffer, size, 0);
      if (received >= 0) return received;
      if (errno == EINTR) continue;
      Fail(failure, "recv NETLINK_ROUTE");
      return -1;
    }
  }

 private:
  bool Fail(RtnetlinkFailure* failure, const char* syscall) {
    failure->error = errno;
    failure->syscall = syscall;
    return false;
  }

  int fd_ = -1;
};

// The extended ack message of an NLMSG_ERROR, if the kernel attached one.
std::string ExtendedAckMessage(const nlmsghdr* header) {
  if ((header->nlmsg_flags & NLM_F_ACK_TLVS) == 0) return "";
  const auto* error = static_cast<const nlmsgerr*>(NLMSG_DATA(header));
  // Capped: only the request's header follows the error code; else the whole request does.
  size_t offset = (header->nlmsg_flags & NLM_F_CAPPED) != 0 ? sizeof(nlmsgerr) : sizeof(int) + NLMSG_ALIGN(error->msg.nlmsg_len);
  size_t payload = header->nlmsg_len - NLMSG_HDRLEN;
  if (offset > payload) return "";
  const auto* attr = reinterpret_cast<const nlattr*>(static_cast<const uint8_t*>(NLMSG_DATA(header)) + offset);
  size_t left = payload - offset;
  while (left >= sizeof(nlattr) && attr->nla_len >= sizeof(nlattr) && attr->nla_len <= left) {
    if ((attr->nla_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG) {
      const char* text = reinterpret_cast<const char*>(attr) + NLA_HDRLEN;
      return std::string(text, strnlen(text, attr->nla_len - NLA_HDRLEN));
    }
    size_t step = NLA_ALIGN(attr->nla_len);
    if (step >= left) break;
    left -= step;
    attr = reinterpret_cast<const nlattr*>(reinterpret_cast<const uint8_t*>(attr) + step);
  }
  return "";
}

// Receives acks until every request of sequence numbers [first, first + count) has one.
bool CollectAcks(RouteSocket* socket, uint32_t first, size_t count, const std::vector<size_t>& request_of,
                 std::vector<RtnetlinkResult>* results, RtnetlinkFailure* failure) {
  std::vector<uint8_t> buffer(kReceiveBytes);
  size_t answered = 0;
  while (answered < count) {
    ssize_t received = socket->Receive(buffer.data(), buffer.size(), failure);
    if (received < 0) return false;
    int left = static_cast<int>(received);
    for (auto* header = reinterpret_cast<nlmsghdr*>(buffer.data()); NLMSG_OK(header, left); header = NLMSG_NEXT(header, left)) {
      if (header->nlmsg_type != NLMSG_ERROR || header->nlmsg_seq < first || header->nlmsg_seq - first >= count) continue;
      if (header->nlmsg_len < NLMSG_LENGTH(sizeof(int))) continue;
      RtnetlinkResult& result = (*results)[request_of[header->nlmsg_seq - first]];
      result.error = -static_cast<const nlmsgerr*>(NLMSG_DATA(header))->error;
      result.message = ExtendedAckMessage(header);
      answered++;
    }
  }
  return true;
}

// Writes "1" or "0" to net.ipv6.conf.LINK.force_forwarding; 0 or the errno. The name was checked
// by the TypeScript side (no '/', not "." or "..").
int WriteIpv6Forwarding(const std::string& link, bool on) {
  std::string path = "/proc/sys/net/ipv6/conf/" + link + "/force_forwarding";
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  const char* value = on ? "1\n" : "0\n";
  int error = write(fd, value, 2) == 2 ? 0 : errno;
  close(fd);
  return error;
}

// Looks up the indexes of `names` with RTM_GETLINK, many per sendmsg; a name that is not there
// gets -errno (ENODEV) as its index, so the batch asks only once.
bool ResolveLinks(RouteSocket* socket, const std::vector<std::string>& names, uint32_t* seq,
                  std::unordered_map<std::string, int>* indexes, RtnetlinkFailure* failure) {
  std::vector<uint8_t> messages;
  std::vector<uint8_t> buffer(kReceiveBytes);
  for (size_t start = 0; start < names.size(); start += kLookupsPerSend) {
    size_t count = std::min(kLookupsPerSend, names.size() - start);
    uint32_t first = *seq;
    messages.clear();
    for (size_t i = 0; i < count; i++) EncodeLinkLookup(names[start + i], (*seq)++, &messages);
    if (!socket->Send(messages, failure)) return false;
    size_t answered = 0;
    while (answered < count) {
      ssize_t received = socket->Receive(buffer.data(), buffer.size(), failure);
      if (received < 0) return false;
      int left = static_cast<int>(received);
      for (auto* header = reinterpret_cast<nlmsghdr*>(buffer.data()); NLMSG_OK(header, left); header = NLMSG_NEXT(header, left)) {
        if (header->nlmsg_seq < first || header->nlmsg_seq - first >= count) continue;
        const std::string& name = names[start + header->nlmsg_seq - first];
        if (header->nlmsg_type == RTM_NEWLINK && header->nlmsg_len >= NLMSG_LENGTH(sizeof(ifinfomsg))) {
          (*indexes)[name] = static_cast<const ifinfomsg*>(NLMSG_DATA(header))->ifi_index;
          answered++;
        } else if (header->nlmsg_type == NLMSG_ERROR && header->nlmsg_len >= NLMSG_LENGTH(sizeof(int))) {
          int error = -static_cast<const nlmsgerr*>(NLMSG_DATA(header))->error;
          (*indexes)[name] = -(error == 0 ? ENODEV : error);
          answered++;
        }
      }
    }
  }
  return true;
}

}  // namespace

bool RunRtnetlinkBatch(const std::vector<RtnetlinkRequest>& requests, std::vector<RtnetlinkResult>* results,
                       RtnetlinkFailure* failure) {
  results->assign(requests.size(), RtnetlinkResult());
  if (requests.empty()) return true;
  RouteSocket socket;
  if (!socket.Open(failure)) return false;
  std::unordered_map<std::string, int> indexes;
  std::vector<std::string> unknown;
  std::vector<uint8_t> messages;
  std::vector<size_t> request_of;
  uint32_t seq = 1;
  for (size_t next = 0; next < requests.size();) {
    if (requests[next].op == RtnetlinkOp::kSetIpv6Forwarding) {
      // In its place: whatever the batch asked before it was sent and answered first.
      (*results)[next].error = WriteIpv6Forwarding(requests[next].link, requests[next].value != 0);
      next++;
      continue;
    }
    // The next run of netlink requests, and the names of it not looked up yet.
    size_t end = next;
    unknown.clear();
    for (; end < requests.size() && end - next < kRequestsPerSend && requests[end].op != RtnetlinkOp::kSetIpv6Forwarding; end++) {
      const std::string& link = requests[end].link;
      if (!link.empty() && indexes.find(link) == indexes.end()) {
        indexes.emplace(link, 0);
        unknown.push_back(link);
      }
    }
    if (!ResolveLinks(&socket, unknown, &seq, &indexes, failure)) return false;
    messages.clear();
    request_of.clear();
    uint32_t first = seq;
    for (; next < end; next++) {
      const RtnetlinkRequest& request = requests[next];
      int ifindex = request.link.empty() ? 0 : indexes[request.link];
      if (ifindex < 0) {
        // Never sent: the interface is not there.
        (*results)[next].error = -ifindex;
        continue;
      }
      EncodeRtnetlinkRequest(request, ifindex, seq++, &messages);
      request_of.push_back(next);
    }
    if (!request_of.empty()) {
      if (!socket.Send(messages, failure)) return false;
      if (!CollectAcks(&socket, first, request_of.size(), request_of, results, failure)) return false;
    }
    // A deleted link's name is looked up again if a later run asks for it; a deleted group may
    // have taken any of the names looked up so far.
    for (size_t i : request_of) {
      if (requests[i].op == RtnetlinkOp::kDeleteLink) indexes.erase(requests[i].link);
      if (requests[i].op == RtnetlinkOp::kDeleteLinkGroup) indexes.clear();
    }
  }
  return true;
}

bool ListRtnetlinkLinks(const std::string& prefix, std::vector<LinkEntry>* links, RtnetlinkFailure* failure) {
  RouteSocket socket;
  if (!socket.Open(failure)) return false;
  std::vector<uint8_t> request;
  {
    nlmsghdr header = {};
    header.nlmsg_len = NLMSG_LENGTH(sizeof(ifinfomsg) + RTA_LENGTH(sizeof(uint32_t)));
    header.nlmsg_type = RTM_GETLINK;
    header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    header.nlmsg_seq = 1;
    ifinfomsg link = {};
    link.ifi_family = AF_UNSPEC;
    rtattr mask = {};
    mask.rta_type = IFLA_EXT_MASK;
    mask.rta_len = RTA_LENGTH(sizeof(uint32_t));
    uint32_t filter = RTEXT_FILTER_SKIP_STATS;
    const auto append = [&request](const void* data, size_t length) {
      const auto* bytes = static_cast<const uint8_t*>(data);
      request.insert(request.end(), bytes, bytes + length);
    };
    append(&header, sizeof(header));
    append(&link, sizeof(link));
    append(&mask, sizeof(mask));
    append(&filter, sizeof(filter));
  }
  if (!socket.Send(request, failure)) return false;
  std::vector<uint8_t> buffer(kReceiveBytes);
  for (;;) {
    ssize_t received = socket.Receive(buffer.data(), buffer.size(), failure);
    if (received < 0) return false;
    int left = static_cast<int>(received);
    for (auto* header = reinterpret_cast<nlmsghdr*>(buffer.data()); NLMSG_OK(header, left); header = NLMSG_NEXT(header, left)) {
      if (header->nlmsg_seq != 1) continue;
      if (header->nlmsg_type == NLMSG_DONE) return true;
      if (header->nlmsg_type == NLMSG_ERROR) {
        int error = -static_cast<const nlmsgerr*>(NLMSG_DATA(header))->error;
        if (error == 0) return true;
        failure->error = error;
        failure->syscall = "RTM_GETLINK";
        return false;
      }
      if (header->nlmsg_type != RTM_NEWLINK) continue;
      const auto* link = static_cast<const ifinfomsg*>(NLMSG_DATA(header));
      int attributes = static_cast<int>(IFLA_PAYLOAD(header));
      LinkEntry entry;
      entry.index = link->ifi_index;
      bool named = false;
      for (const auto* attr = IFLA_RTA(link); RTA_OK(attr, attributes); attr = RTA_NEXT(attr, attributes)) {
        const char* text = static_cast<const char*>(RTA_DATA(attr));
        if (attr->rta_type == IFLA_IFNAME) {
          entry.name.assign(text, strnlen(text, RTA_PAYLOAD(attr)));
          named = true;
        } else if (attr->rta_type == IFLA_IFALIAS) {
          entry.alias.assign(text, strnlen(text, RTA_PAYLOAD(attr)));
        } else if (attr->rta_type == IFLA_GROUP && RTA_PAYLOAD(attr) >= sizeof(uint32_t)) {
          memcpy(&entry.group, RTA_DATA(attr), sizeof(uint32_t));
        }
      }
      if (named && entry.name.compare(0, prefix.size(), prefix) == 0) links->push_back(std::move(entry));
    }
  }
}

}  // namespace tunnel_native
