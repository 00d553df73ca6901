#include "esp-aead-cipher.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <string.h>

// The headers node-gyp hands over are node's own (include/node/openssl), which match the symbols
// the node binary exports; a system libssl-dev of another major version must not be picked up.
static_assert(OPENSSL_VERSION_MAJOR >= 3, "build against the OpenSSL headers that come with node");

namespace tunnel_native {

namespace {

constexpr size_t kNonceBytes = EspAeadCipher::kSaltBytes + EspAeadCipher::kIvBytes;

const EVP_CIPHER* CipherFor(EspAead aead, size_t cipher_key_length) {
  if (aead == EspAead::kChaCha20Poly1305) return cipher_key_length == 32 ? EVP_chacha20_poly1305() : nullptr;
  switch (cipher_key_length) {
    case 16: return EVP_aes_128_gcm();
    case 24: return EVP_aes_192_gcm();
    case 32: return EVP_aes_256_gcm();
    default: return nullptr;
  }
}

EVP_CIPHER_CTX* KeyedContext(const EVP_CIPHER* cipher, const uint8_t* key, int encrypt) {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (ctx == nullptr) return nullptr;
  // Both AEADs default to a 12-byte nonce, which is salt|IV: nothing to set beyond the key.
  if (EVP_CipherInit_ex(ctx, cipher, nullptr, key, nullptr, encrypt) != 1) {
    EVP_CIPHER_CTX_free(ctx);
    return nullptr;
  }
  return ctx;
}

}  // namespace

std::unique_ptr<EspAeadCipher> EspAeadCipher::Create(EspAead aead, const uint8_t* key, size_t key_length,
                                                     const char** error) {
  if (aead != EspAead::kAesGcm && aead != EspAead::kChaCha20Poly1305) {
    *error = "unknown AEAD";
    return nullptr;
  }
  const EVP_CIPHER* cipher = key_length > kSaltBytes ? CipherFor(aead, key_length - kSaltBytes) : nullptr;
  if (cipher == nullptr) {
    *error = aead == EspAead::kAesGcm ? "an AES-GCM key with its salt is 20, 28 or 36 bytes"
                                      : "a ChaCha20-Poly1305 key with its salt is 36 bytes";
    return nullptr;
  }
  std::unique_ptr<EspAeadCipher> made(new EspAeadCipher());
  made->seal_ = KeyedContext(cipher, key, 1);
  made->open_ = KeyedContext(cipher, key, 0);
  if (made->seal_ == nullptr || made->open_ == nullptr) {
    *error = "OpenSSL refused the cipher";
    return nullptr;
  }
  memcpy(made->salt_, key + key_length - kSaltBytes, kSaltBytes);
  return made;
}

EspAeadCipher::~EspAeadCipher() {
  // EVP_CIPHER_CTX_free wipes the expanded key; the salt is ours to wipe.
  EVP_CIPHER_CTX_free(seal_);
  EVP_CIPHER_CTX_free(open_);
  OPENSSL_cleanse(salt_, sizeof(salt_));
}

void EspAeadCipher::Nonce(const uint8_t* iv, uint8_t* nonce) const {
  memcpy(nonce, salt_, kSaltBytes);
  memcpy(nonce + kSaltBytes, iv, kIvBytes);
}

bool EspAeadCipher::Seal(const uint8_t* aad, size_t aad_length, const uint8_t* iv, uint8_t* data, size_t length,
                         uint8_t* icv) {
  uint8_t nonce[kNonceBytes];
  Nonce(iv, nonce);
  int written = 0;
  // A null cipher and key keep the expanded key: only the nonce changes per packet.
  bool ok = EVP_CipherInit_ex(seal_, nullptr, nullptr, nullptr, nonce, 1) == 1 &&
            EVP_CipherUpdate(seal_, nullptr, &written, aad, static_cast<int>(aad_length)) == 1 &&
            EVP_CipherUpdate(seal_, data, &written, data, static_cast<int>(length)) == 1 &&
            EVP_CipherFinal_ex(seal_, data + written, &written) == 1 &&
            EVP_CIPHER_CTX_ctrl(seal_, EVP_CTRL_AEAD_GET_TAG, static_cast<int>(kIcvBytes), icv) == 1;
  OPENSSL_cleanse(nonce, sizeof(nonce));
  return ok;
}

bool EspAeadCipher::Open(const uint8_t* aad, size_t aad_length, const uint8_t* iv, const uint8_t* data, size_t length,
                         const uint8_t* icv, uint8_t* out) {
  uint8_t nonce[kNonceBytes];
  Nonce(iv, nonce);
  int written = 0;
  // OpenSSL reads the expected tag before the final step compares it (in constant time).
  bool ok = EVP_CipherInit_ex(open_, nullptr, nullptr, nullptr, nonce, 0) == 1 &&
            EVP_CIPHER_CTX_ctrl(open_, EVP_CTRL_AEAD_SET_TAG, static_cast<int>(kIcvBytes),
                                const_cast<uint8_t*>(icv)) == 1 &&
            EVP_CipherUpdate(open_, nullptr, &written, aad, static_cast<int>(aad_length)) == 1 &&
            EVP_CipherUpdate(open_, out, &written, data, static_cast<int>(length)) == 1 &&
            EVP_CipherFinal_ex(open_, out + written, &written) == 1;
  OPENSSL_cleanse(nonce, sizeof(nonce));
  return ok;
}

}  // namespace tunnel_native
