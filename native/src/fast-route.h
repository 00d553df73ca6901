// A tunnel's native fast path: the bytes to put in front of its inner packets (built by the
// TypeScript codecs in shared/wire and handed over as opaque templates), where to send them, and
// which received payloads are its own. It moves the common packets between a TUN device and an
// outer socket on the forwarding thread without entering JS; anything it is not sure of stays for
// the JS engine. Transmit, Accept, DeliverRun and ForgetEndpoint run on a forwarding thread with
// its mutex held, on scratch memory that thread lends them; configuring takes every thread's.
#pragma once

#include <napi.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <vector>

#include <atomic>
#include <memory>

#include "destination-tally.h"
#include "endpoint-forwarding.h"
#include "esp-inbound-table.h"
#include "esp-security-association.h"
#include "forwarding-thread.h"
#include "packet-slots.h"
#include "socket-address.h"
#include "tun-write-ring.h"

namespace tunnel_native {

class PacketEndpoint;

// The inner sources a route takes (BCP 38 at a hub's ingress); the rest is left to JS, which
// counts and drops it. Built by shared/datapath/source-filter.ts.
struct SourcePrefixes {
  struct V6 {
    uint8_t network[16];
    uint8_t mask[16];
  };
  bool check = false;
  std::vector<uint32_t> v4;  // (network, mask) pairs, host byte order
  std::vector<V6> v6;
  bool Allows(const uint8_t* inner, uint8_t version) const;
};

// A header template, at most kMaxHeader bytes; `inner_version` is the IP version it carries (0 for
// Ethernet frames).
struct HeaderTemplate {
  static constexpr uint32_t kMaxHeader = 32;
  bool present = false;
  uint8_t inner_version = 0;
  uint32_t length = 0;
  uint8_t bytes[kMaxHeader] = {};
};

class FastRoute : public Napi::ObjectWrap<FastRoute> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit FastRoute(const Napi::CallbackInfo& info);
  ~FastRoute() override;

  // TUN side: sends every packet of the scratch slots [0, count) read from TUN queue `queue` it
  // may (each has headroom for the header) and sets scratch.slow[i] for the others, which go to
  // JS; with `indices`, the slots indices[0, count) instead (a shared TUN's run for this route).
  // The threads of several queues may transmit at once.
  void Transmit(ForwardingScratch& scratch, const uint32_t* indices, uint32_t count, unsigned queue);
  // Outer side: `payload` follows the outer header of a packet from this route's remote. True
  // when the route takes it; `header_length` is then where the inner packet starts.
  bool Accept(const uint8_t* payload, uint32_t length, uint32_t* header_length) const;
  // An encrypted route's outer side: `payload` is an ESP packet from its remote.
  enum class EspVerdict {
    kNotMine,  // no SA of this route has its SPI (another route's, or JS counts it `no-sa`)
    kTake,     // opened into `out` and committed: the inner packet is at out + *inner_offset
    kStash,    // authentic, but not a packet this route delivers (a keepalive): JS opens it
    kDrop,     // refused by its SA (ICV, replay, malformed), which counted it
  };
  EspVerdict AcceptEsp(const uint8_t* payload, uint32_t length, uint8_t* out, uint32_t* inner_offset,
                       uint32_t* inner_length);
  bool Encrypted() const { return encrypted_; }
  // Writes the inner packets of `run` (slots [0, count)) to the TUN with the scratch's writer.
  void DeliverRun(ForwardingScratch& scratch, const PacketSlots& run, uint32_t count);
  // The endpoint is closing or being finalized: never touch it again (forwarding mutex held).
  void ForgetEndpoint(const PacketEndpoint* endpoint);
  // The counters() values into `values`, with every forwarding mutex held (ForwardingLock).
  void ReadCounters(double values[9]) const;

 private:
  Napi::Value Configure(const Napi::CallbackInfo& info);
  Napi::Value Counters(const Napi::CallbackInfo& info);
  Napi::Value DrainDestinations(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  // The part of configure() done with the forwarding mutex held.
  void Apply(PacketEndpoint* tun, const Napi::Value& tun_value, PacketEndpoint* outer, const Napi::Value& outer_value,
             const Napi::Object& options, const HeaderTemplate& header4, const HeaderTemplate& header6,
             const HeaderTemplate& header_ethernet, SourcePrefixes& sources);
  // With the mutex held: stops forwarding and forgets both endpoints (not their references).
  void Detach();
  // With the mutex held: stops being the TUN's transmit route, or leaves its shared table.
  void LeaveTun();
  // Detach, then lets both endpoints re-decide their watch and drops the references.
  void DetachAndRefresh();
  void AttachReceive();
  void DetachReceive();
  RouteKey ReceiveKey() const;
  const HeaderTemplate* TransmitHeaderFor(const uint8_t* packet, uint32_t length) const;
  void SendBatch(ForwardingScratch& scratch, uint32_t count, unsigned queue);
  uint32_t BuildMessages(ForwardingScratch& scratch, uint32_t first, uint32_t count);
  void CountDelivery(int64_t result, uint32_t length);

  PacketEndpoint* tun_ = nullptr;
  PacketEndpoint* outer_ = nullptr;
  Napi::ObjectReference tun_ref_;
  Napi::ObjectReference outer_ref_;

  bool transmit_ = false;
  // The TUN is shared with other routes: this one sends what its destinations hold.
  bool shared_ = false;
  bool receive_ = false;
  bool receive_attached_ = false;
  uint32_t remote_address_ = 0;  // IPv4, host byte order
  uint8_t remote_address6_[16] = {};  // IPv6, when the outer socket is an IPv6 one
  uint16_t remote_port_ = 0;
  uint32_t mtu_ = 0;
  bool clamp_mss_ = false;
  // Send through JS when nothing was received for this long (0: never): lets a NATed member's
  // engine notice silence on its next send and say hello.
  uint64_t quiet_limit_ms_ = 0;
  HeaderTemplate header4_;
  HeaderTemplate header6_;
  // Set when the route carries Ethernet frames of a TAP (gretap): every frame gets this header.
  HeaderTemplate header_ethernet_;
  SourcePrefixes sources_;
  // ESP (an encrypted tunnel): every packet sent is sealed with esp_out_ (none: every packet goes
  // to JS, which drops it as tx:no-sa), and only ESP that opens with esp_in_ is taken.
  bool encrypted_ = false;
  std::shared_ptr<EspSecurityAssociation> esp_out_;
  std::shared_ptr<EspInboundTable> esp_in_;
  uint8_t esp_next_header4_ = 0;
  uint8_t esp_next_header6_ = 0;

  // Seals the fast packets [0, count) of a transmit (iovecs at their outer payload) in place;
  // drops the ones the SA refuses. Returns how many remain.
  uint32_t SealFast(ForwardingScratch& scratch, uint32_t count);

  // UDP segmentation offload: at most this many datagrams, and bytes, per message.
  static constexpr uint32_t kMaxSegments = 64;
  static constexpr uint64_t kMaxSegmentedBytes = 65000;
  std::atomic<bool> gso_usable_{true};
  SocketAddress destination_ = {};
  socklen_t destination_length_ = 0;

  // Received: counted by the thread that owns the outer sockets (one).
  double rx_packets_ = 0;
  double rx_bytes_ = 0;
  double rx_queue_full_ = 0;
  double rx_errors_ = 0;
  // Sent: counted per TUN queue, by that queue's thread.
  struct TxCounters {
    double packets = 0;
    double bytes = 0;
    double queue_full = 0;
    double errors = 0;
  };
  TxCounters tx_[ForwardingThread::kMaxThreads];
  // Written when a packet is received, read by every transmitting thread.
  std::atomic<uint64_t> last_rx_ms_{0};
  std::atomic<bool> heard_{false};
  // A hub's member tunnel: bytes received per inner destination, for shortcut detection.
  bool tally_destinations_ = false;
  DestinationTally destinations_;
};

}  // namespace tunnel_native
