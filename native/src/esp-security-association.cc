#include "esp-security-association.h"

#include <openssl/rand.h>
#include <string.h>

namespace tunnel_native {

namespace {

uint32_t Load32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 | static_cast<uint32_t>(p[2]) << 8 | p[3];
}

void Store32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

uint64_t Load64(const uint8_t* p) { return static_cast<uint64_t>(Load32(p)) << 32 | Load32(p + 4); }

void Store64(uint8_t* p, uint64_t v) {
  Store32(p, static_cast<uint32_t>(v >> 32));
  Store32(p + 4, static_cast<uint32_t>(v));
}

}  // namespace

std::unique_ptr<EspSecurityAssociation> EspSecurityAssociation::Create(const Config& config, const uint8_t* key,
                                                                       size_t key_length, const char** error) {
  // SPI 0 marks non-ESP traffic on port 4500 (RFC 3948) and 1-255 are reserved (RFC 4303 §2.1).
  if (config.spi < 256) {
    *error = "the SPI must be at least 256";
    return nullptr;
  }
  if (config.first_sequence == 0) {
    *error = "the first sequence number must be at least 1";
    return nullptr;
  }
  std::unique_ptr<EspAeadCipher> cipher = EspAeadCipher::Create(config.aead, key, key_length, error);
  if (!cipher) return nullptr;
  std::unique_ptr<EspSecurityAssociation> sa(new EspSecurityAssociation());
  uint8_t mask[EspAeadCipher::kIvBytes];
  if (config.iv_mask_given) {
    memcpy(mask, config.iv_mask, sizeof(mask));
  } else if (RAND_bytes(mask, sizeof(mask)) != 1) {
    *error = "OpenSSL could not draw the IV mask";
    return nullptr;
  }
  sa->spi_ = config.spi;
  sa->aead_ = config.aead;
  sa->cipher_ = std::move(cipher);
  sa->next_sequence_ = config.first_sequence;
  sa->rekey_sequence_ = config.rekey_sequence;
  sa->iv_mask_ = Load64(mask);
  return sa;
}

EspOutcome EspSecurityAssociation::Seal(uint8_t* packet, uint32_t headroom, uint32_t length, uint32_t room,
                                        uint8_t next_header, uint32_t* esp_length) {
  if (next_sequence_ > kLastSequence) {
    counters_.seal_exhausted++;
    return EspOutcome::kSequenceExhausted;
  }
  // RFC 4303 §2.4: payload, padding, pad length and next header end on a 4-byte boundary; the
  // padding bytes are 1, 2, 3 (what Linux sends and what a strict receiver checks).
  uint32_t padding = (4 - (length + 2) % 4) % 4;
  uint32_t encrypted = length + padding + 2;
  if (headroom < kHeadroom || room < encrypted + EspAeadCipher::kIcvBytes) {
    counters_.seal_no_room++;
    return EspOutcome::kNoRoom;
  }
  uint8_t* trailer = packet + length;
  for (uint32_t i = 0; i < padding; i++) trailer[i] = static_cast<uint8_t>(i + 1);
  trailer[padding] = static_cast<uint8_t>(padding);
  trailer[padding + 1] = next_header;

  uint64_t sequence = next_sequence_;
  uint8_t* header = packet - kHeadroom;
  Store32(header, spi_);
  Store32(header + 4, static_cast<uint32_t>(sequence));
  // The explicit IV is unique per key because the sequence number is (it never wraps); the
  // mask only makes it differ from the sequence number, as the kernel's seqiv does.
  Store64(header + kHeaderBytes, sequence ^ iv_mask_);
  // AAD without ESN: SPI and sequence number (RFC 4106 §5, RFC 7634 §2.1).
  if (!cipher_->Seal(header, kHeaderBytes, header + kHeaderBytes, packet, encrypted, packet + encrypted)) {
    // Not something a packet can cause; the half-written packet is dropped, never sent.
    counters_.cipher_errors++;
    return EspOutcome::kCipherError;
  }
  next_sequence_ = sequence + 1;
  counters_.sealed_packets++;
  counters_.sealed_bytes += length;
  *esp_length = kHeadroom + encrypted + EspAeadCipher::kIcvBytes;
  return EspOutcome::kOk;
}

EspOutcome EspSecurityAssociation::Open(uint8_t* packet, uint32_t length, uint32_t* payload_length,
                                        uint8_t* next_header) {
  if (length < kMinPacket) {
    counters_.malformed++;
    return EspOutcome::kMalformed;
  }
  uint32_t encrypted = length - kHeadroom - EspAeadCipher::kIcvBytes;
  uint8_t* ciphertext = packet + kHeadroom;
  if (!cipher_->Open(packet, kHeaderBytes, packet + kHeaderBytes, ciphertext, encrypted, ciphertext + encrypted, ciphertext)) {
    counters_.auth_failed++;
    return EspOutcome::kAuthFailed;
  }
  // Only an authentic packet may move the window (RFC 4303 §3.4.3).
  uint32_t sequence = Load32(packet + 4);
  if (window_.Check(sequence) != EspReplayWindow::Verdict::kFresh) {
    counters_.replayed++;
    return EspOutcome::kReplayed;
  }
  window_.Accept(sequence);
  uint32_t padding = ciphertext[encrypted - 2];
  if (padding + 2 > encrypted) {
    counters_.malformed++;
    return EspOutcome::kMalformed;
  }
  // The padding bytes are not checked, as the kernel does not: a peer with other padding still talks.
  *payload_length = encrypted - 2 - padding;
  *next_header = ciphertext[encrypted - 1];
  counters_.opened_packets++;
  counters_.opened_bytes += *payload_length;
  return EspOutcome::kOk;
}

EspOutcome EspSecurityAssociation::Verify(const uint8_t* packet, uint32_t length, uint8_t* out,
                                          uint32_t* payload_length, uint8_t* next_header, uint32_t* sequence) {
  if (length < kMinPacket) {
    counters_.malformed++;
    return EspOutcome::kMalformed;
  }
  uint32_t encrypted = length - kHeadroom - EspAeadCipher::kIcvBytes;
  const uint8_t* ciphertext = packet + kHeadroom;
  if (!cipher_->Open(packet, kHeaderBytes, packet + kHeaderBytes, ciphertext, encrypted, ciphertext + encrypted, out)) {
    counters_.auth_failed++;
    return EspOutcome::kAuthFailed;
  }
  uint32_t seq = Load32(packet + 4);
  if (window_.Check(seq) != EspReplayWindow::Verdict::kFresh) {
    counters_.replayed++;
    return EspOutcome::kReplayed;
  }
  uint32_t padding = out[encrypted - 2];
  if (padding + 2 > encrypted) {
    // Authentic, so it takes its place in the window: the same packet again is a replay.
    window_.Accept(seq);
    counters_.malformed++;
    return EspOutcome::kMalformed;
  }
  *payload_length = encrypted - 2 - padding;
  *next_header = out[encrypted - 1];
  *sequence = seq;
  return EspOutcome::kOk;
}

void EspSecurityAssociation::Commit(uint32_t sequence, uint32_t payload_length) {
  window_.Accept(sequence);
  counters_.opened_packets++;
  counters_.opened_bytes += payload_length;
}

}  // namespace tunnel_native
