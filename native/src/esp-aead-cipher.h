// One SA's AEAD through OpenSSL's EVP interface, from the OpenSSL inside the node binary (its
// headers come with node-gyp's; the symbols resolve against node itself, nothing else is linked).
// The key is expanded once into two reusable contexts, one per direction; a packet only sets its
// nonce. Key material lives only inside those contexts and the 4-byte salt, wiped on destruction.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <memory>

typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;

namespace tunnel_native {

// The AEADs of RFC 4106 (AES-GCM, as Linux's rfc4106(gcm(aes))) and RFC 7634 (ChaCha20-Poly1305,
// as Linux's rfc7539esp(chacha20,poly1305)): 8-byte explicit IV, 16-byte ICV.
enum class EspAead : uint8_t { kAesGcm = 1, kChaCha20Poly1305 = 2 };

class EspAeadCipher {
 public:
  static constexpr size_t kSaltBytes = 4;
  static constexpr size_t kIvBytes = 8;
  static constexpr size_t kIcvBytes = 16;

  // `key` is the cipher key followed by the 4-byte salt, as `ip xfrm state … aead` takes it:
  // 20, 28 or 36 bytes for AES-GCM-128/192/256, 36 for ChaCha20-Poly1305. Null with `*error`
  // set (a static text naming no key byte) when the length does not fit or OpenSSL refuses.
  static std::unique_ptr<EspAeadCipher> Create(EspAead aead, const uint8_t* key, size_t key_length,
                                               const char** error);
  ~EspAeadCipher();
  EspAeadCipher(const EspAeadCipher&) = delete;
  EspAeadCipher& operator=(const EspAeadCipher&) = delete;

  // Encrypts data[0, length) in place under nonce salt|iv with `aad` authenticated, and writes
  // the ICV to `icv`. False only if OpenSSL fails.
  bool Seal(const uint8_t* aad, size_t aad_length, const uint8_t* iv, uint8_t* data, size_t length, uint8_t* icv);
  // Decrypts data[0, length) into out[0, length) (out == data: in place) and verifies `icv`;
  // false when it does not verify (out then holds garbage and must be dropped).
  bool Open(const uint8_t* aad, size_t aad_length, const uint8_t* iv, const uint8_t* data, size_t length,
            const uint8_t* icv, uint8_t* out);

 private:
  EspAeadCipher() = default;
  void Nonce(const uint8_t* iv, uint8_t* nonce) const;

  EVP_CIPHER_CTX* seal_ = nullptr;
  EVP_CIPHER_CTX* open_ = nullptr;
  uint8_t salt_[kSaltBytes] = {};
};

}  // namespace tunnel_native
