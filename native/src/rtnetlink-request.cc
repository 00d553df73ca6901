#include "rtnetlink-request.h"

#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/ip.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>

namespace tunnel_native {

namespace {

// Builds one message in place: the header, the family header, then attributes (nested ones
// through Begin/End), each padded to NLMSG_ALIGN/RTA_ALIGN as the kernel expects.
class MessageWriter {
 public:
  MessageWriter(std::vector<uint8_t>* out, uint16_t type, uint16_t flags, uint32_t seq) : out_(out), start_(out->size()) {
    nlmsghdr header = {};
    header.nlmsg_type = type;
    header.nlmsg_flags = flags;
    header.nlmsg_seq = seq;
    Append(&header, sizeof(header));
  }

  template <typename T>
  void Body(const T& body) {
    Append(&body, sizeof(body));
  }

  void Attribute(uint16_t type, const void* data, size_t length) {
    rtattr attr = {};
    attr.rta_type = type;
    attr.rta_len = static_cast<uint16_t>(RTA_LENGTH(length));
    Append(&attr, sizeof(attr));
    Append(data, length);
    Pad();
  }

  void U32(uint16_t type, uint32_t value) { Attribute(type, &value, sizeof(value)); }

  // Starts a nested attribute; End(at) closes it.
  size_t Begin(uint16_t type) {
    size_t at = out_->size();
    rtattr attr = {};
    attr.rta_type = type;
    Append(&attr, sizeof(attr));
    return at;
  }

  void End(size_t at) {
    auto* attr = reinterpret_cast<rtattr*>(out_->data() + at);
    attr->rta_len = static_cast<uint16_t>(out_->size() - at);
  }

  // Writes the total length into the header.
  void Finish() {
    auto* header = reinterpret_cast<nlmsghdr*>(out_->data() + start_);
    header->nlmsg_len = static_cast<uint32_t>(out_->size() - start_);
  }

 private:
  void Append(const void* data, size_t length) {
    const auto* bytes = static_cast<const uint8_t*>(data);
    out_->insert(out_->end(), bytes, bytes + length);
  }

  void Pad() { out_->resize(start_ + NLMSG_ALIGN(out_->size() - start_), 0); }

  std::vector<uint8_t>* out_;
  size_t start_;
};

constexpr uint16_t kAck = NLM_F_REQUEST | NLM_F_ACK;

ifinfomsg LinkHeader(int ifindex) {
  ifinfomsg link = {};
  link.ifi_family = AF_UNSPEC;
  link.ifi_index = ifindex;
  return link;
}

size_t AddressBytes(int family) { return family == AF_INET6 ? 16 : 4; }

void EncodeRoute(const RtnetlinkRequest& request, int ifindex, uint32_t seq, std::vector<uint8_t>* out) {
  bool add = request.op == RtnetlinkOp::kReplaceRoute;
  uint16_t flags = add ? (kAck | NLM_F_CREATE | (request.exclusive ? NLM_F_EXCL : NLM_F_REPLACE)) : kAck;
  MessageWriter message(out, add ? RTM_NEWROUTE : RTM_DELROUTE, flags, seq);
  rtmsg route = {};
  route.rtm_family = static_cast<unsigned char>(request.family);
  route.rtm_dst_len = request.prefix_length;
  route.rtm_table = request.local ? RT_TABLE_LOCAL : RT_TABLE_MAIN;
  // As `ip route replace|del` sends them: a device route of link scope from "boot"; a local
  // one of host scope; an unreachable one of global scope; a deletion matching any protocol and scope.
  if (add) {
    route.rtm_protocol = RTPROT_BOOT;
    route.rtm_scope = request.unreachable ? RT_SCOPE_UNIVERSE : request.local ? RT_SCOPE_HOST : RT_SCOPE_LINK;
    route.rtm_type = request.unreachable ? RTN_UNREACHABLE : request.local ? RTN_LOCAL : RTN_UNICAST;
  } else {
    route.rtm_scope = RT_SCOPE_NOWHERE;
    route.rtm_type = request.unreachable ? RTN_UNREACHABLE : request.local ? RTN_LOCAL : RTN_UNSPEC;
  }
  message.Body(route);
  size_t bytes = AddressBytes(request.family);
  message.Attribute(RTA_DST, request.address, bytes);
  if (request.has_source) message.Attribute(RTA_PREFSRC, request.source, bytes);
  if (ifindex > 0) message.U32(RTA_OIF, static_cast<uint32_t>(ifindex));
  message.U32(RTA_PRIORITY, request.value);
  message.Finish();
}

void EncodeAddress(const RtnetlinkRequest& request, int ifindex, uint32_t seq, std::vector<uint8_t>* out) {
  bool add = request.op == RtnetlinkOp::kAddAddress;
  uint16_t flags = add ? kAck | NLM_F_CREATE | (request.exclusive ? NLM_F_EXCL : NLM_F_REPLACE) : kAck;
  MessageWriter message(out, add ? RTM_NEWADDR : RTM_DELADDR, flags, seq);
  ifaddrmsg address = {};
  address.ifa_family = static_cast<unsigned char>(request.family);
  address.ifa_prefixlen = request.prefix_length;
  address.ifa_flags = request.nodad ? IFA_F_NODAD : 0;
  address.ifa_scope = RT_SCOPE_UNIVERSE;
  address.ifa_index = static_cast<uint32_t>(ifindex);
  message.Body(address);
  size_t bytes = AddressBytes(request.family);
  message.Attribute(IFA_LOCAL, request.address, bytes);
  // The prefix belongs to IFA_ADDRESS: the peer of a point-to-point address, else the address.
  message.Attribute(IFA_ADDRESS, request.has_peer ? request.peer : request.address, bytes);
  message.Finish();
}

}  // namespace

void EncodeLinkLookup(const std::string& name, uint32_t seq, std::vector<uint8_t>* out) {
  MessageWriter message(out, RTM_GETLINK, NLM_F_REQUEST, seq);
  message.Body(LinkHeader(0));
  message.Attribute(IFLA_IFNAME, name.c_str(), name.size() + 1);
  message.U32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  message.Finish();
}

void EncodeRtnetlinkRequest(const RtnetlinkRequest& request, int ifindex, uint32_t seq, std::vector<uint8_t>* out) {
  switch (request.op) {
    case RtnetlinkOp::kReplaceRoute:
    case RtnetlinkOp::kDeleteRoute:
      EncodeRoute(request, ifindex, seq, out);
      return;
    case RtnetlinkOp::kAddAddress:
    case RtnetlinkOp::kDeleteAddress:
      EncodeAddress(request, ifindex, seq, out);
      return;
    case RtnetlinkOp::kDeleteLink: {
      MessageWriter message(out, RTM_DELLINK, kAck, seq);
      message.Body(LinkHeader(ifindex));
      message.Finish();
      return;
    }
    case RtnetlinkOp::kDeleteLinkGroup: {
      // One unregister_netdevice_many for the whole group: one RCU grace period for all, where a
      // deletion per device (or a TUN's close) waits for one each. The kernel refuses group 0.
      MessageWriter message(out, RTM_DELLINK, kAck, seq);
      message.Body(LinkHeader(0));
      message.U32(IFLA_GROUP, request.value);
      message.Finish();
      return;
    }
    case RtnetlinkOp::kMarkLink: {
      MessageWriter message(out, RTM_SETLINK, kAck, seq);
      message.Body(LinkHeader(ifindex));
      message.U32(IFLA_GROUP, request.value);
      message.Attribute(IFLA_IFALIAS, request.alias.data(), request.alias.size());
      message.Finish();
      return;
    }
    case RtnetlinkOp::kSetUp: {
      MessageWriter message(out, RTM_SETLINK, kAck, seq);
      ifinfomsg link = LinkHeader(ifindex);
      link.ifi_flags = request.value != 0 ? IFF_UP : 0;
      link.ifi_change = IFF_UP;
      message.Body(link);
      message.Finish();
      return;
    }
    case RtnetlinkOp::kSetIpv6Forwarding:
      return;
    case RtnetlinkOp::kSetMtu:
    case RtnetlinkOp::kSetMac:
    case RtnetlinkOp::kSetIpv4Forwarding: {
      MessageWriter message(out, RTM_SETLINK, kAck, seq);
      message.Body(LinkHeader(ifindex));
      if (request.op == RtnetlinkOp::kSetMtu) {
        message.U32(IFLA_MTU, request.value);
      } else if (request.op == RtnetlinkOp::kSetMac) {
        message.Attribute(IFLA_ADDRESS, request.address, 6);
      } else {
        // The one per-interface devconf netlink sets (inet_set_link_af); IPv6 has no such setter.
        size_t spec = message.Begin(IFLA_AF_SPEC);
        size_t inet = message.Begin(AF_INET);
        size_t conf = message.Begin(IFLA_INET_CONF);
        message.U32(IPV4_DEVCONF_FORWARDING, request.value);
        message.End(conf);
        message.End(inet);
        message.End(spec);
      }
      message.Finish();
      return;
    }
  }
}

}  // namespace tunnel_native
