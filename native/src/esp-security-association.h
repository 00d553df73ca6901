// One ESP security association in transport mode (RFC 4303), as Linux xfrm puts it on the wire
// with `proto esp mode transport aead …` and no ESN: SPI, 32-bit sequence number, 8-byte explicit
// IV, the payload with RFC 4303 padding to 4 bytes, pad length, next header, 16-byte ICV.
// Seal and Open work in place on one packet; the batch loops are esp-batch.h. Callers hold
// mutex() (the batch loops and counter reads take it), since several threads may use one SA.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <memory>
#include <mutex>

#include "esp-aead-cipher.h"
#include "esp-replay-window.h"

namespace tunnel_native {

// What happened to one packet; the same codes reach JS (native/esp.ts).
enum class EspOutcome : uint8_t {
  kOk = 0,
  // Open: too short for an ESP packet, or an authentic packet whose pad length
  // runs past its payload.
  kMalformed = 1,
  kUnknownSpi = 2,
  // Open: the ICV did not verify (tampered, or not from the peer).
  kAuthFailed = 3,
  // Open: authentic, but its sequence number was seen already or is below the window.
  kReplayed = 4,
  // Seal: no room before the packet for the header and IV, or after it for the trailer and ICV.
  kNoRoom = 5,
  // Seal: the sequence number would pass 2^32 - 1; the SA must be replaced (rekey).
  kSequenceExhausted = 6,
  // Seal: OpenSSL failed on a keyed context (not caused by any packet).
  kCipherError = 7,
};

// Everything an SA has done; read under the same serialisation as its users.
struct EspCounters {
  uint64_t sealed_packets = 0;
  uint64_t sealed_bytes = 0;  // payload bytes, before ESP
  uint64_t seal_no_room = 0;
  uint64_t seal_exhausted = 0;
  uint64_t cipher_errors = 0;
  uint64_t opened_packets = 0;
  uint64_t opened_bytes = 0;  // payload bytes, after ESP
  uint64_t auth_failed = 0;
  uint64_t replayed = 0;
  uint64_t malformed = 0;
};

class EspSecurityAssociation {
 public:
  static constexpr uint32_t kHeaderBytes = 8;  // SPI, sequence number
  // What goes in front of the payload (header + IV) and the most that goes after it (3 bytes of
  // padding, pad length, next header, ICV).
  static constexpr uint32_t kHeadroom = kHeaderBytes + EspAeadCipher::kIvBytes;
  static constexpr uint32_t kMaxTailroom = 3 + 2 + EspAeadCipher::kIcvBytes;
  // The shortest ESP packet Open takes: header, IV, pad length, next header, ICV.
  static constexpr uint32_t kMinPacket = kHeadroom + 2 + EspAeadCipher::kIcvBytes;
  static constexpr uint32_t kLastSequence = 0xffffffffu;

  struct Config {
    uint32_t spi = 0;
    EspAead aead = EspAead::kAesGcm;
    // The first sequence number Seal uses (normally 1) and the one from which RekeyDue() is true.
    uint32_t first_sequence = 1;
    uint32_t rekey_sequence = 0x80000000u;
    // XORed into the big-endian 64-bit sequence number to make the explicit IV, like the
    // kernel's seqiv; drawn at random when `iv_mask_given` is false.
    bool iv_mask_given = false;
    uint8_t iv_mask[EspAeadCipher::kIvBytes] = {};
  };

  // Null with `*error` set (static text, no key byte) when the key or config is refused.
  static std::unique_ptr<EspSecurityAssociation> Create(const Config& config, const uint8_t* key, size_t key_length,
                                                        const char** error);

  // Seals the `length`-byte payload at `packet` in place: the ESP header and IV go in front of
  // it (`headroom` bytes may be written there), the trailer and ICV after it (within `room` bytes
  // from `packet` on). On kOk `*esp_length` is the ESP packet's length, which starts at
  // packet - kHeadroom. Anything else leaves the memory and the sequence number untouched.
  EspOutcome Seal(uint8_t* packet, uint32_t headroom, uint32_t length, uint32_t room, uint8_t next_header,
                  uint32_t* esp_length);
  // Opens the ESP packet at `packet` (its SPI already matched this SA) in place: on kOk the
  // payload is `*payload_length` bytes at packet + kHeadroom and `*next_header` says what it is.
  EspOutcome Open(uint8_t* packet, uint32_t length, uint32_t* payload_length, uint8_t* next_header);
  // The fast route's open, in two steps: Verify decrypts into out[0, length - kHeadroom - ICV)
  // (the packet stays as it was) and checks the ICV and the window without moving it; kOk gives
  // the payload's length, next header and sequence number. Only then Commit(sequence, length)
  // takes the packet (window, counters); a packet left uncommitted may still be opened by Open
  // (the JS path), once. Both with mutex() held, one right after the other.
  EspOutcome Verify(const uint8_t* packet, uint32_t length, uint8_t* out, uint32_t* payload_length,
                    uint8_t* next_header, uint32_t* sequence);
  void Commit(uint32_t sequence, uint32_t payload_length);

  // Serialises this SA's users: a forwarding thread per TUN queue seals, the socket thread
  // opens, JS seals control packets and opens what the fast route leaves.
  std::mutex& mutex() { return mutex_; }

  uint32_t Spi() const { return spi_; }
  EspAead Aead() const { return aead_; }
  // The last sequence number sealed (0 before the first).
  uint32_t LastSequence() const { return static_cast<uint32_t>(next_sequence_ - 1); }
  // True once the next sequence number has reached the rekey point: time to install a new SA.
  bool RekeyDue() const { return next_sequence_ >= rekey_sequence_; }
  const EspReplayWindow& Window() const { return window_; }
  const EspCounters& Counters() const { return counters_; }

 private:
  EspSecurityAssociation() = default;

  uint32_t spi_ = 0;
  EspAead aead_ = EspAead::kAesGcm;
  std::unique_ptr<EspAeadCipher> cipher_;
  // 64 bits so that passing 2^32 - 1 is seen rather than wrapped.
  uint64_t next_sequence_ = 1;
  uint64_t rekey_sequence_ = 0x80000000u;
  uint64_t iv_mask_ = 0;
  EspReplayWindow window_;
  EspCounters counters_;
  std::mutex mutex_;
};

}  // namespace tunnel_native
