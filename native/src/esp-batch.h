// ESP over a batch of packet slots, in place: what the forwarding thread and the JS path (through
// the addon) both run, so there is one ESP implementation. No allocation; each slot gets its own
// outcome, and a slot that fails keeps its place (the caller drops it, counted by the SA).
#pragma once

#include <stdint.h>

#include "esp-inbound-table.h"
#include "esp-security-association.h"
#include "packet-slots.h"

namespace tunnel_native {

// Seals the payloads of slots [0, count) with `sa`: slot i's payload (offsets[i], lengths[i])
// becomes the ESP packet carrying next header next_headers[i], and its offset moves back by
// EspSecurityAssociation::kHeadroom. outcomes[i] says how each went; returns how many sealed.
// One packet per slot: super-packets from TUN offloads are segmented before they get here.
uint32_t EspSealBatch(EspSecurityAssociation& sa, const PacketSlots& slots, uint32_t count,
                      const uint8_t* next_headers, uint8_t* outcomes);

// An outcome code on entry to EspOpenBatch that leaves the slot alone (and its code as it is).
constexpr uint8_t kEspSkipSlot = 255;

// Opens the ESP packets of slots [0, count) with the SA their SPI names in `table`: on success
// slot i holds the payload (offset forward by kHeadroom, length without trailer and ICV) and
// next_headers[i] what it is. A slot whose outcome is kEspSkipSlot on entry is skipped (a shared
// receive batch holds other tunnels' packets too). Returns how many opened. Takes the table's
// mutex, then each SA's; EspSealBatch takes its SA's.
uint32_t EspOpenBatch(EspInboundTable& table, const PacketSlots& slots, uint32_t count, uint8_t* next_headers,
                      uint8_t* outcomes);

}  // namespace tunnel_native
