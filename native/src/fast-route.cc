#include "fast-route.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/udp.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mutex>
#include <utility>

#include "addon-data.h"
#include "endpoint-forwarding.h"
#include "esp-binding.h"
#include "forwarding-thread.h"
#include "packet-endpoint.h"
#include "system-error.h"

namespace tunnel_native {

namespace {

constexpr uint8_t kProtocolTcp = 6;
constexpr uint8_t kProtocolGre = 47;
constexpr uint8_t kIpv4DontFragment = 0x40;
constexpr uint8_t kTcpSyn = 0x02;
constexpr uint32_t kEthernetHeader = 14;

// Milliseconds on a monotonic clock; the coarse one is enough for silence measured in 100s of ms.
uint64_t NowMs() {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1000 + static_cast<uint64_t>(now.tv_nsec) / 1000000;
}

bool IsBackpressure(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS; }

// A TCP SYN at `tcp` (MSS clamping rewrites those, in JS).
bool IsTcpSyn(const uint8_t* tcp, uint32_t available) { return available >= 14 && (tcp[13] & kTcpSyn) != 0; }

PacketEndpoint* UnwrapEndpoint(Napi::Env env, const Napi::Value& value) {
  if (!value.IsObject()) return nullptr;
  bool tagged = false;
  napi_check_object_type_tag(env, value, &kEndpointTag, &tagged);
  return tagged ? PacketEndpoint::Unwrap(value.As<Napi::Object>()) : nullptr;
}

// header: Uint8Array of at most kMaxHeader bytes, or null for "this IP version is not carried".
bool ParseTemplate(const Napi::Value& value, uint8_t inner_version, HeaderTemplate& out) {
  out = HeaderTemplate();
  if (value.IsNull() || value.IsUndefined()) return true;
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) return false;
  Napi::Uint8Array bytes = value.As<Napi::Uint8Array>();
  if (bytes.ElementLength() > HeaderTemplate::kMaxHeader) return false;
  out.present = true;
  out.inner_version = inner_version;
  out.length = static_cast<uint32_t>(bytes.ElementLength());
  if (out.length > 0) memcpy(out.bytes, bytes.Data(), out.length);
  return true;
}

// sources: null/undefined (no check), or {v4: Uint32Array of pairs, v6: Uint8Array of 32-byte entries}.
bool ParseSources(const Napi::Value& value, SourcePrefixes& out) {
  out = SourcePrefixes();
  if (value.IsNull() || value.IsUndefined()) return true;
  if (!value.IsObject()) return false;
  Napi::Object object = value.As<Napi::Object>();
  Napi::Value v4 = object.Get("v4");
  Napi::Value v6 = object.Get("v6");
  if (!v4.IsTypedArray() || v4.As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array) return false;
  if (!v6.IsTypedArray() || v6.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) return false;
  Napi::Uint32Array pairs = v4.As<Napi::Uint32Array>();
  Napi::Uint8Array entries = v6.As<Napi::Uint8Array>();
  if (pairs.ElementLength() % 2 != 0 || entries.ElementLength() % sizeof(SourcePrefixes::V6) != 0) return false;
  out.check = true;
  out.v4.assign(pairs.Data(), pairs.Data() + pairs.ElementLength());
  out.v6.resize(entries.ElementLength() / sizeof(SourcePrefixes::V6));
  if (!out.v6.empty()) memcpy(out.v6.data(), entries.Data(), entries.ElementLength());
  return true;
}

uint32_t NumberOr(const Napi::Object& options, const char* key, uint32_t fallback) {
  Napi::Value value = options.Get(key);
  return value.IsNumber() ? value.As<Napi::Number>().Uint32Value() : fallback;
}

}  // namespace

bool SourcePrefixes::Allows(const uint8_t* inner, uint8_t version) const {
  if (!check) return true;
  if (version == 4) {
    uint32_t source = (static_cast<uint32_t>(inner[12]) << 24) | (static_cast<uint32_t>(inner[13]) << 16) |
                      (static_cast<uint32_t>(inner[14]) << 8) | inner[15];
    for (size_t i = 0; i + 1 < v4.size(); i += 2) {
      if ((source & v4[i + 1]) == v4[i]) return true;
    }
    return false;
  }
  const uint8_t* source = inner + 8;
  // Link-local and unspecified sources (neighbour discovery, MLD, OSPFv3) never leave the link.
  if (source[0] == 0xfe && (source[1] & 0xc0) == 0x80) return true;
  static const uint8_t kUnspecified[16] = {};
  if (memcmp(source, kUnspecified, 16) == 0) return true;
  for (const V6& entry : v6) {
    bool match = true;
    for (int b = 0; b < 16 && match; b++) match = (source[b] & entry.mask[b]) == entry.network[b];
    if (match) return true;
  }
  return false;
}

Napi::Function FastRoute::Define(Napi::Env env) {
  return DefineClass(env, "FastRoute",
                     {
                         InstanceMethod<&FastRoute::Configure>("configure"),
                         InstanceMethod<&FastRoute::Counters>("counters"),
                         InstanceMethod<&FastRoute::DrainDestinations>("drainDestinations"),
                         InstanceMethod<&FastRoute::Close>("close"),
                     });
}

FastRoute::FastRoute(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FastRoute>(info) {}

FastRoute::~FastRoute() { DetachAndRefresh(); }

// configure({tun, outer, transmit, receive, shared, destinations, remoteAddress, remotePort, header4, header6, headerEthernet, mtu,
//            clampMss, quietLimitMs, sources, tallyDestinations}): replaces the whole route at once.
Napi::Value FastRoute::Configure(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) {
    ThrowArgumentError(env, "configure needs an options object");
    return env.Undefined();
  }
  Napi::Object options = info[0].As<Napi::Object>();
  Napi::Value tun_value = options.Get("tun");
  Napi::Value outer_value = options.Get("outer");
  PacketEndpoint* tun = UnwrapEndpoint(env, tun_value);
  PacketEndpoint* outer = outer_value.IsNull() ? nullptr : UnwrapEndpoint(env, outer_value);
  if (tun == nullptr || tun->kind() != EndpointKind::kTun ||
      (!outer_value.IsNull() && (outer == nullptr || outer->kind() == EndpointKind::kTun))) {
    ThrowArgumentError(env, "configure needs a TUN endpoint and an outer socket endpoint (or null)");
    return env.Undefined();
  }
  if (tun->fd() < 0 || (outer != nullptr && outer->fd() < 0)) {
    ThrowClosedError(env);
    return env.Undefined();
  }
  HeaderTemplate header4;
  HeaderTemplate header6;
  HeaderTemplate header_ethernet;
  if (!ParseTemplate(options.Get("header4"), 4, header4) || !ParseTemplate(options.Get("header6"), 6, header6) ||
      !ParseTemplate(options.Get("headerEthernet"), 0, header_ethernet)) {
    ThrowArgumentError(env, "header templates must be Uint8Arrays of at most 32 bytes, or null");
    return env.Undefined();
  }
  SourcePrefixes sources;
  if (!ParseSources(options.Get("sources"), sources)) {
    ThrowArgumentError(env, "sources must be null or {v4: Uint32Array of pairs, v6: Uint8Array of 32-byte entries}");
    return env.Undefined();
  }
  // A shared TUN: the inner destinations this route sends, as prefixes in the sources' shape.
  bool shared = options.Get("shared").ToBoolean().Value();
  SourcePrefixes destinations;
  if (shared && (!ParseSources(options.Get("destinations"), destinations) || !destinations.check)) {
    ThrowArgumentError(env, "a shared route needs destinations: {v4: Uint32Array of pairs, v6: Uint8Array of 32-byte entries}");
    return env.Undefined();
  }
  // ESP: the SAs are JS objects of this addon (EspSa, EspInbound); the route shares them.
  bool encrypted = options.Get("encrypted").ToBoolean().Value();
  Napi::Value esp_out_value = options.Get("espOut");
  std::shared_ptr<EspSecurityAssociation> esp_out =
      esp_out_value.IsNull() || esp_out_value.IsUndefined() ? nullptr : UnwrapEspSa(env, esp_out_value);
  std::shared_ptr<EspInboundTable> esp_in = encrypted ? UnwrapEspInbound(env, options.Get("espIn")) : nullptr;
  if ((!esp_out_value.IsNull() && !esp_out_value.IsUndefined() && !esp_out) || (encrypted && !esp_in)) {
    ThrowArgumentError(env, "an encrypted route needs an open EspInbound as espIn, and an open EspSa or null as espOut");
    return env.Undefined();
  }

  // Endpoints this route leaves must re-decide their watch too, once the lock is released.
  PacketEndpoint* left_tun = tun_ != tun ? tun_ : nullptr;
  PacketEndpoint* left_outer = outer_ != outer ? outer_ : nullptr;
  Napi::ObjectReference keep_tun = left_tun != nullptr ? std::move(tun_ref_) : Napi::ObjectReference();
  Napi::ObjectReference keep_outer = left_outer != nullptr ? std::move(outer_ref_) : Napi::ObjectReference();
  {
    ForwardingLock lock;
    Apply(tun, tun_value, outer, outer_value, options, header4, header6, header_ethernet, sources);
    if (shared) tun_->forwarding().shared_routes().Set(this, destinations);
    shared_ = shared;
    encrypted_ = encrypted;
    // The SAs the route let go of may be freed here, under the lock: no thread still uses them.
    esp_out_.swap(esp_out);
    esp_in_.swap(esp_in);
    esp_next_header4_ = static_cast<uint8_t>(NumberOr(options, "espNextHeader4", 0));
    esp_next_header6_ = static_cast<uint8_t>(NumberOr(options, "espNextHeader6", 0));
  }
  for (PacketEndpoint* endpoint : {tun_, outer_, left_tun, left_outer}) {
    if (endpoint != nullptr) endpoint->RefreshWatch();
  }
  return env.Undefined();
}

void FastRoute::Apply(PacketEndpoint* tun, const Napi::Value& tun_value, PacketEndpoint* outer,
                      const Napi::Value& outer_value, const Napi::Object& options, const HeaderTemplate& header4,
                      const HeaderTemplate& header6, const HeaderTemplate& header_ethernet, SourcePrefixes& sources) {
  DetachReceive();
  if (tun_ != tun || shared_ != options.Get("shared").ToBoolean().Value()) LeaveTun();
  if (tun_ != tun) {
    tun_ = tun;
    tun_ref_ = Napi::Persistent(tun_value.As<Napi::Object>());
  }
  if (!options.Get("shared").ToBoolean().Value()) tun_->forwarding().SetTransmitRoute(this);
  if (outer_ != outer) {
    outer_ = outer;
    if (outer == nullptr) {
      outer_ref_.Reset();
    } else {
      outer_ref_ = Napi::Persistent(outer_value.As<Napi::Object>());
    }
  }
  transmit_ = options.Get("transmit").ToBoolean().Value();
  receive_ = options.Get("receive").ToBoolean().Value();
  remote_address_ = NumberOr(options, "remoteAddress", 0);
  Napi::Value remote6 = options.Get("remoteAddress6");
  memset(remote_address6_, 0, sizeof(remote_address6_));
  if (remote6.IsTypedArray() && remote6.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array &&
      remote6.As<Napi::Uint8Array>().ElementLength() == 16) {
    memcpy(remote_address6_, remote6.As<Napi::Uint8Array>().Data(), 16);
  }
  remote_port_ = static_cast<uint16_t>(NumberOr(options, "remotePort", 0));
  mtu_ = NumberOr(options, "mtu", 0);
  clamp_mss_ = options.Get("clampMss").ToBoolean().Value();
  quiet_limit_ms_ = NumberOr(options, "quietLimitMs", 0);
  tally_destinations_ = options.Get("tallyDestinations").ToBoolean().Value();
  header4_ = header4;
  header6_ = header6;
  header_ethernet_ = header_ethernet;
  // A new MTU (or path) may let segmentation work where it failed before: try it again.
  gso_usable_ = true;
  sources_ = std::move(sources);  // no allocation under the mutex
  int family = outer_ != nullptr ? outer_->family() : AF_INET;
  uint16_t port = outer_ != nullptr && outer_->kind() == EndpointKind::kUdp ? remote_port_ : 0;
  destination_length_ = MakeSocketAddress(&destination_, family, remote_address_, remote_address6_, port);
  AttachReceive();
}

RouteKey FastRoute::ReceiveKey() const {
  uint16_t port = outer_->kind() == EndpointKind::kUdp ? remote_port_ : 0;
  return outer_->family() == AF_INET6 ? RouteKey6(remote_address6_, port) : RouteKey4(remote_address_, port);
}

void FastRoute::AttachReceive() {
  if (!receive_ || outer_ == nullptr || tun_ == nullptr) return;
  outer_->forwarding().AttachReceive(ReceiveKey(), this);
  receive_attached_ = true;
}

void FastRoute::DetachReceive() {
  if (!receive_attached_) return;
  receive_attached_ = false;
  if (outer_ != nullptr) outer_->forwarding().DetachReceive(ReceiveKey(), this);
}

void FastRoute::DetachAndRefresh() {
  PacketEndpoint* tun = tun_;
  PacketEndpoint* outer = outer_;
  {
    ForwardingLock lock;
    Detach();
  }
  // The endpoints stay alive until the references go, below.
  if (tun != nullptr) tun->RefreshWatch();
  if (outer != nullptr) outer->RefreshWatch();
  tun_ref_.Reset();
  outer_ref_.Reset();
}

void FastRoute::LeaveTun() {
  if (tun_ == nullptr) return;
  if (tun_->forwarding().transmit_route() == this) tun_->forwarding().SetTransmitRoute(nullptr);
  if (shared_) tun_->forwarding().shared_routes().Remove(this);
}

void FastRoute::Detach() {
  DetachReceive();
  LeaveTun();
  shared_ = false;
  tun_ = nullptr;
  outer_ = nullptr;
  transmit_ = receive_ = false;
  encrypted_ = false;
  esp_out_.reset();
  esp_in_.reset();
}

void FastRoute::ForgetEndpoint(const PacketEndpoint* endpoint) {
  if (endpoint == outer_) {
    // The endpoint clears its own tables; only this side's pointers go.
    receive_attached_ = false;
    outer_ = nullptr;
    outer_ref_.Reset();
  }
  if (endpoint == tun_) {
    DetachReceive();
    shared_ = false;
    tun_ = nullptr;
    tun_ref_.Reset();
  }
}

const HeaderTemplate* FastRoute::TransmitHeaderFor(const uint8_t* packet, uint32_t length) const {
  if (length == 0) return nullptr;
  // A frame larger than the TAP's MTU (set by hand) goes to JS, which counts it too big.
  if (header_ethernet_.present) return length >= kEthernetHeader && length <= mtu_ + kEthernetHeader ? &header_ethernet_ : nullptr;
  uint8_t version = packet[0] >> 4;
  if (version == 4) {
    if (length < 20 || !header4_.present) return nullptr;
    // Too big with DF set: JS answers with ICMP "fragmentation needed".
    if (length > mtu_ && (packet[6] & kIpv4DontFragment) != 0) return nullptr;
    uint32_t header_length = (packet[0] & 0x0f) * 4u;
    if (clamp_mss_ && packet[9] == kProtocolTcp && header_length <= length &&
        IsTcpSyn(packet + header_length, length - header_length)) {
      return nullptr;
    }
    return &header4_;
  }
  if (version == 6) {
    if (length < 40 || !header6_.present || length > mtu_) return nullptr;
    if (clamp_mss_ && packet[6] == kProtocolTcp && IsTcpSyn(packet + 40, length - 40)) return nullptr;
    return &header6_;
  }
  return nullptr;
}

void FastRoute::Transmit(ForwardingScratch& scratch, const uint32_t* indices, uint32_t count, unsigned queue) {
  const PacketSlots& slots = scratch.read.slots();
  bool* slow = scratch.slow;
  // An encrypted route without an outbound SA sends nothing itself: JS drops and counts (tx:no-sa).
  bool usable = transmit_ && outer_ != nullptr && outer_->fd() >= 0 && (!encrypted_ || esp_out_ != nullptr);
  if (usable && quiet_limit_ms_ > 0 && (!heard_ || NowMs() - last_rx_ms_ > quiet_limit_ms_)) usable = false;
  uint32_t fast = 0;
  for (uint32_t k = 0; k < count; k++) {
    uint32_t i = indices != nullptr ? indices[k] : k;
    slow[i] = true;
    if (!usable) continue;
    uint8_t* packet = slots.Packet(i);
    uint32_t length = slots.lengths[i];
    const HeaderTemplate* header = TransmitHeaderFor(packet, length);
    if (header == nullptr || slots.offsets[i] < header->length) continue;
    slow[i] = false;
    uint8_t* start = packet - header->length;
    memcpy(start, header->bytes, header->length);
    scratch.iovs[fast].iov_base = start;
    scratch.iovs[fast].iov_len = length + header->length;
    scratch.inner_lengths[fast] = length;
    scratch.fast_slots[fast] = i;
    fast++;
  }
  if (fast > 0 && encrypted_) fast = SealFast(scratch, fast);
  if (fast > 0) SendBatch(scratch, fast, queue);
}

uint32_t FastRoute::SealFast(ForwardingScratch& scratch, uint32_t count) {
  const PacketSlots& slots = scratch.read.slots();
  EspSecurityAssociation& sa = *esp_out_;
  uint32_t kept = 0;
  std::lock_guard<std::mutex> guard(sa.mutex());
  for (uint32_t k = 0; k < count; k++) {
    uint8_t* payload = static_cast<uint8_t*>(scratch.iovs[k].iov_base);
    uint8_t* slot = slots.Slot(scratch.fast_slots[k]);
    uint32_t headroom = static_cast<uint32_t>(payload - slot);
    uint32_t length = static_cast<uint32_t>(scratch.iovs[k].iov_len);
    // What the payload carries: GRE (47) for gre and gretap, else IPv4 (4) or IPv6 (41) for ipip.
    const uint8_t* inner = payload + (length - scratch.inner_lengths[k]);
    uint8_t next_header = header_ethernet_.present || (inner[0] >> 4) != 6 ? esp_next_header4_ : esp_next_header6_;
    uint32_t esp_length = 0;
    // A refusal (no room, sequence numbers exhausted) is counted by the SA; the packet is dropped.
    if (sa.Seal(payload, headroom, length, slots.slot_size - headroom, next_header, &esp_length) != EspOutcome::kOk) continue;
    scratch.iovs[kept].iov_base = payload - EspSecurityAssociation::kHeadroom;
    scratch.iovs[kept].iov_len = esp_length;
    scratch.inner_lengths[kept] = scratch.inner_lengths[k];
    kept++;
  }
  return kept;
}

// Groups packets [first, count) into messages: on a UDP socket with segmentation offload, a run
// of equal-sized datagrams (the last may be shorter) becomes one message the kernel takes down
// the stack once and splits at the end; otherwise each packet is its own message.
uint32_t FastRoute::BuildMessages(ForwardingScratch& scratch, uint32_t first, uint32_t count) {
  struct iovec* iovs = scratch.iovs;
  const uint32_t* inner_lengths = scratch.inner_lengths;
  bool segment = gso_usable_ && outer_->kind() == EndpointKind::kUdp;
  uint32_t messages = 0;
  for (uint32_t i = first; i < count;) {
    uint32_t size = static_cast<uint32_t>(iovs[i].iov_len);
    uint32_t run = 1;
    // Only datagrams that fit the tunnel MTU go together: each segment must fit the path.
    if (segment && inner_lengths[i] <= mtu_) {
      uint64_t total = size;
      while (i + run < count && run < kMaxSegments && inner_lengths[i + run] <= mtu_ &&
             iovs[i + run].iov_len <= size && total + iovs[i + run].iov_len <= kMaxSegmentedBytes) {
        total += iovs[i + run].iov_len;
        run++;
        if (iovs[i + run - 1].iov_len < size) break;  // a shorter one ends the run
      }
    }
    struct msghdr& header = scratch.messages[messages].msg_hdr;
    header.msg_name = &destination_;
    header.msg_namelen = destination_length_;
    header.msg_iov = &iovs[i];
    header.msg_iovlen = run;
    header.msg_control = nullptr;
    header.msg_controllen = 0;
    header.msg_flags = 0;
    if (run > 1) {
      char* control = scratch.controls[messages];
      header.msg_control = control;
      header.msg_controllen = CMSG_SPACE(sizeof(uint16_t));
      struct cmsghdr* c = CMSG_FIRSTHDR(&header);
      c->cmsg_level = SOL_UDP;
      c->cmsg_type = UDP_SEGMENT;
      c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      uint16_t segment_size = static_cast<uint16_t>(size);
      memcpy(CMSG_DATA(c), &segment_size, sizeof(segment_size));
    }
    scratch.message_first[messages] = i;
    scratch.message_count[messages] = run;
    messages++;
    i += run;
  }
  return messages;
}

void FastRoute::SendBatch(ForwardingScratch& scratch, uint32_t count, unsigned queue) {
  TxCounters& tx = tx_[queue];
  uint32_t messages = BuildMessages(scratch, 0, count);
  uint32_t done = 0;
  while (done < messages) {
    int sent = sendmmsg(outer_->fd(), scratch.messages + done, messages - done, MSG_DONTWAIT);
    if (sent > 0) {
      for (uint32_t m = done; m < done + static_cast<uint32_t>(sent); m++) {
        for (uint32_t i = scratch.message_first[m]; i < scratch.message_first[m] + scratch.message_count[m]; i++) tx.bytes += scratch.inner_lengths[i];
        tx.packets += scratch.message_count[m];
      }
      done += static_cast<uint32_t>(sent);
      continue;
    }
    int err = errno;
    if (err == EINTR) continue;
    if (scratch.message_count[done] > 1 && (err == EIO || err == EINVAL || err == EOPNOTSUPP || err == ENOPROTOOPT)) {
      // This kernel or route cannot segment: send the rest one datagram each, from now on.
      gso_usable_ = false;
      uint32_t first = scratch.message_first[done];
      messages = BuildMessages(scratch, first, count);
      done = 0;
      continue;
    }
    uint32_t left = 0;
    for (uint32_t m = done; m < messages; m++) left += scratch.message_count[m];
    if (IsBackpressure(err)) {
      tx.queue_full += left;
      return;
    }
    tx.errors += scratch.message_count[done];  // refused (e.g. EHOSTUNREACH): drop it, send the rest
    done++;
  }
}

bool FastRoute::Accept(const uint8_t* payload, uint32_t length, uint32_t* header_length) const {
  if (tun_ == nullptr || tun_->fd() < 0) return false;
  if (header_ethernet_.present) {
    const HeaderTemplate& header = header_ethernet_;
    if (length < header.length + kEthernetHeader || memcmp(payload, header.bytes, header.length) != 0) return false;
    *header_length = header.length;
    return true;
  }
  for (const HeaderTemplate* header : {&header4_, &header6_}) {
    if (!header->present) continue;
    uint32_t min_inner = header->inner_version == 4 ? 20 : 40;
    if (length < header->length + min_inner || memcmp(payload, header->bytes, header->length) != 0) continue;
    const uint8_t* inner = payload + header->length;
    if ((inner[0] >> 4) != header->inner_version) continue;
    // IP carrying GRE may be a Cisco keepalive to reflect (IPv4, or IPv6 over an IPv6 path): JS decides.
    if (header->inner_version == 4 && inner[9] == kProtocolGre) continue;
    if (header->inner_version == 6 && inner[6] == kProtocolGre) continue;
    // A source outside the route's prefixes: JS counts it as spoofed and drops it.
    if (!sources_.Allows(inner, header->inner_version)) return false;
    *header_length = header->length;
    return true;
  }
  return false;
}

FastRoute::EspVerdict FastRoute::AcceptEsp(const uint8_t* payload, uint32_t length, uint8_t* out,
                                           uint32_t* inner_offset, uint32_t* inner_length) {
  if (!esp_in_ || length < EspSecurityAssociation::kHeaderBytes) return EspVerdict::kNotMine;
  uint32_t spi = static_cast<uint32_t>(payload[0]) << 24 | static_cast<uint32_t>(payload[1]) << 16 |
                 static_cast<uint32_t>(payload[2]) << 8 | payload[3];
  std::lock_guard<std::mutex> table_guard(esp_in_->mutex());
  EspSecurityAssociation* sa = esp_in_->Find(spi);
  if (sa == nullptr) return EspVerdict::kNotMine;
  std::lock_guard<std::mutex> sa_guard(sa->mutex());
  uint32_t payload_length = 0;
  uint8_t next_header = 0;
  uint32_t sequence = 0;
  if (sa->Verify(payload, length, out, &payload_length, &next_header, &sequence) != EspOutcome::kOk) return EspVerdict::kDrop;
  uint32_t header_length = 0;
  if (!Accept(out, payload_length, &header_length)) return EspVerdict::kStash;
  // The next header must say what the template matched (GRE, or IPv4/IPv6 for ipip).
  uint8_t version = header_ethernet_.present ? 4 : out[header_length] >> 4;
  if (next_header != (version == 6 ? esp_next_header6_ : esp_next_header4_)) return EspVerdict::kStash;
  sa->Commit(sequence, payload_length);
  *inner_offset = header_length;
  *inner_length = payload_length - header_length;
  return EspVerdict::kTake;
}

void FastRoute::DeliverRun(ForwardingScratch& scratch, const PacketSlots& run, uint32_t count) {
  last_rx_ms_ = NowMs();
  heard_ = true;
  if (tun_ == nullptr || tun_->fd() < 0) {
    rx_errors_ += count;
    return;
  }
  bool tally = tally_destinations_ && !header_ethernet_.present;
  if (tally) {
    for (uint32_t i = 0; i < count; i++) destinations_.Count(run.Packet(i), run.lengths[i]);
  }
  tun_->WriteInner(scratch.writer, scratch.ring, run, count, scratch.results);
  for (uint32_t i = 0; i < count; i++) CountDelivery(scratch.results[i], run.lengths[i]);
  // After the packets are counted received: a reader that sees this total sees them in the counters.
  if (tally) tallied_packets.fetch_add(count, std::memory_order_release);
}

void FastRoute::CountDelivery(int64_t result, uint32_t length) {
  if (result >= 0) {
    rx_packets_++;
    rx_bytes_ += length;
  } else if (IsBackpressure(static_cast<int>(-result))) {
    rx_queue_full_++;
  } else {
    rx_errors_++;
  }
}

// counters() -> [rx packets, rx bytes, tx packets, tx bytes, rx queue-full, tx queue-full,
//                rx errors, tx errors, ms since the last packet received (-1: none yet)]
Napi::Value FastRoute::Counters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  double values[9];
  {
    ForwardingLock lock;
    ReadCounters(values);
  }
  Napi::Array out = Napi::Array::New(env, 9);
  for (uint32_t i = 0; i < 9; i++) out.Set(i, Napi::Number::New(env, values[i]));
  return out;
}

// drainDestinations() -> [{address, bytes}]: the inner destinations counted since the last drain
// (tallyDestinations), in table order; the table starts empty again.
Napi::Value FastRoute::DrainDestinations(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DestinationTally::Entry entries[DestinationTally::kEntries];
  uint32_t count;
  {
    ForwardingLock lock;
    count = destinations_.Drain(entries);
  }
  Napi::Array out = Napi::Array::New(env, count);
  for (uint32_t i = 0; i < count; i++) {
    char text[INET6_ADDRSTRLEN] = {};
    const DestinationTally::Entry& entry = entries[i];
    inet_ntop(entry.version == 4 ? AF_INET : AF_INET6, entry.address, text, sizeof(text));
    Napi::Object item = Napi::Object::New(env);
    item.Set("address", Napi::String::New(env, text));
    item.Set("bytes", Napi::Number::New(env, static_cast<double>(entry.bytes)));
    out.Set(i, item);
  }
  return out;
}

void FastRoute::ReadCounters(double values[9]) const {
  TxCounters tx;
  for (const TxCounters& each : tx_) {
    tx.packets += each.packets;
    tx.bytes += each.bytes;
    tx.queue_full += each.queue_full;
    tx.errors += each.errors;
  }
  double since = heard_ ? static_cast<double>(NowMs() - last_rx_ms_) : -1;
  double read[] = {rx_packets_, rx_bytes_, tx.packets, tx.bytes, rx_queue_full_, tx.queue_full, rx_errors_, tx.errors, since};
  memcpy(values, read, sizeof(read));
}

// close(): idempotent; the route stops forwarding and lets go of both endpoints.
Napi::Value FastRoute::Close(const Napi::CallbackInfo& info) {
  DetachAndRefresh();
  return info.Env().Undefined();
}

}  // namespace tunnel_native
