// One rtnetlink request of a batch, as native/rtnetlink.ts describes it, and its encoding into a
// netlink message with the kernel's own UAPI structs (linux/rtnetlink.h, if_link.h, if_addr.h).
#pragma once

#include <stdint.h>

#include <string>
#include <vector>

namespace tunnel_native {

enum class RtnetlinkOp {
  kSetMtu,            // RTM_SETLINK, IFLA_MTU
  kSetMac,            // RTM_SETLINK, IFLA_ADDRESS
  kSetUp,             // RTM_SETLINK, IFF_UP in ifi_flags/ifi_change
  kAddAddress,        // RTM_NEWADDR, create or replace (or exclusive)
  kDeleteAddress,     // RTM_DELADDR
  kReplaceRoute,      // RTM_NEWROUTE, create or replace (or exclusive), table main (or local)
  kDeleteRoute,       // RTM_DELROUTE
  kDeleteLink,        // RTM_DELLINK
  kSetIpv4Forwarding, // RTM_SETLINK, IFLA_AF_SPEC/AF_INET/IFLA_INET_CONF/IPV4_DEVCONF_FORWARDING
  kMarkLink,          // RTM_SETLINK, IFLA_GROUP and IFLA_IFALIAS: whose device it is
  kDeleteLinkGroup,   // RTM_DELLINK of ifindex 0 with IFLA_GROUP: every device of the group at once
  // Not a netlink message: net.ipv6.conf.IF.force_forwarding through /proc/sys, since rtnetlink
  // has no setter for IPv6's per-interface switches (inet6_set_link_af takes only the token and
  // the address generation mode). Written in its place in the batch, on the batch's thread.
  kSetIpv6Forwarding
};

struct RtnetlinkRequest {
  RtnetlinkOp op = RtnetlinkOp::kSetUp;
  // The interface, by name; empty only for an unreachable route and a group deletion.
  std::string link;
  // MTU, route metric, link group, or 0/1 for up and forwarding.
  uint32_t value = 0;
  // A mark-link's alias (IFLA_IFALIAS).
  std::string alias;
  // AF_INET or AF_INET6, for addresses and routes.
  int family = 0;
  uint8_t prefix_length = 0;
  // The address (4 or 16 bytes used), route destination, or MAC (6 bytes).
  uint8_t address[16] = {};
  bool has_peer = false;
  uint8_t peer[4] = {};
  bool unreachable = false;
  // A route of type local in table local: the host takes the prefix's packets as its own.
  bool local = false;
  // RTA_PREFSRC: the source of packets the host sends by the route (family's bytes used).
  bool has_source = false;
  uint8_t source[16] = {};
  // NLM_F_EXCL instead of NLM_F_REPLACE: fail with EEXIST when the address or route is there.
  bool exclusive = false;
  // IFA_F_NODAD: an IPv6 address usable at once.
  bool nodad = false;
};

// Appends the netlink message for `request` (any op but kSetIpv6Forwarding) on interface `ifindex` (0: none) to `out`, with
// NLM_F_REQUEST | NLM_F_ACK and sequence number `seq`.
void EncodeRtnetlinkRequest(const RtnetlinkRequest& request, int ifindex, uint32_t seq, std::vector<uint8_t>* out);

// Appends an RTM_GETLINK for the link named `name` (answered by RTM_NEWLINK, or an error if there
// is none). Unlike SIOCGIFINDEX, a miss does not make the kernel try to load a module by that name.
void EncodeLinkLookup(const std::string& name, uint32_t seq, std::vector<uint8_t>* out);

}  // namespace tunnel_native
