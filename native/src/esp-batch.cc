#include "esp-batch.h"

#include <mutex>

namespace tunnel_native {

uint32_t EspSealBatch(EspSecurityAssociation& sa, const PacketSlots& slots, uint32_t count,
                      const uint8_t* next_headers, uint8_t* outcomes) {
  std::lock_guard<std::mutex> guard(sa.mutex());
  uint32_t sealed = 0;
  for (uint32_t i = 0; i < count; i++) {
    uint32_t offset = slots.offsets[i];
    uint32_t length = slots.lengths[i];
    // A slot whose packet does not lie inside it has no room for anything: Seal refuses it.
    bool inside = offset <= slots.slot_size && length <= slots.slot_size - offset;
    uint32_t esp_length = 0;
    EspOutcome outcome = sa.Seal(slots.Packet(i), inside ? offset : 0, inside ? length : 0, inside ? slots.slot_size - offset : 0,
                                 next_headers[i], &esp_length);
    outcomes[i] = static_cast<uint8_t>(outcome);
    if (outcome != EspOutcome::kOk) continue;
    slots.offsets[i] = offset - EspSecurityAssociation::kHeadroom;
    slots.lengths[i] = esp_length;
    sealed++;
  }
  return sealed;
}

uint32_t EspOpenBatch(EspInboundTable& table, const PacketSlots& slots, uint32_t count, uint8_t* next_headers,
                      uint8_t* outcomes) {
  std::lock_guard<std::mutex> guard(table.mutex());
  uint32_t opened = 0;
  for (uint32_t i = 0; i < count; i++) {
    // Another tunnel's slot in a shared receive batch: not this table's to judge.
    if (outcomes[i] == kEspSkipSlot) continue;
    uint32_t offset = slots.offsets[i];
    uint32_t length = slots.lengths[i];
    if (offset > slots.slot_size || length > slots.slot_size - offset ||
        length < EspSecurityAssociation::kHeaderBytes) {
      table.truncated++;
      outcomes[i] = static_cast<uint8_t>(EspOutcome::kMalformed);
      continue;
    }
    const uint8_t* packet = slots.Packet(i);
    uint32_t spi = static_cast<uint32_t>(packet[0]) << 24 | static_cast<uint32_t>(packet[1]) << 16 |
                   static_cast<uint32_t>(packet[2]) << 8 | packet[3];
    EspSecurityAssociation* sa = table.Find(spi);
    if (sa == nullptr) {
      table.unknown_spi++;
      outcomes[i] = static_cast<uint8_t>(EspOutcome::kUnknownSpi);
      continue;
    }
    uint32_t payload_length = 0;
    std::lock_guard<std::mutex> sa_guard(sa->mutex());
    EspOutcome outcome = sa->Open(slots.Packet(i), length, &payload_length, &next_headers[i]);
    outcomes[i] = static_cast<uint8_t>(outcome);
    if (outcome != EspOutcome::kOk) continue;
    slots.offsets[i] = offset + EspSecurityAssociation::kHeadroom;
    slots.lengths[i] = payload_length;
    opened++;
  }
  return opened;
}

}  // namespace tunnel_native
