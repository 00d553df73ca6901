// The Internet checksum (RFC 1071) as TUN offloads need it: finishing a checksum the kernel left
// partial, giving each TCP segment of a split super-packet its own, and checking received segments
// before they are merged. Sums run over native-order words (RFC 1071 §2(B): the one's complement
// sum is byte-order independent), so a folded sum is stored with memcpy, never byte-swapped.
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <string.h>

namespace tunnel_native {

// Adds `length` bytes at `data` to a running 64-bit one's complement sum. `data` must start at an
// even offset of the checksummed region; an odd last byte is padded with zero, as RFC 1071 says.
inline uint64_t ChecksumAdd(const uint8_t* data, size_t length, uint64_t sum) {
  while (length >= 8) {
    uint64_t word;
    memcpy(&word, data, 8);
    sum += word;
    sum += sum < word;  // end-around carry
    data += 8;
    length -= 8;
  }
  if (length >= 4) {
    uint32_t word;
    memcpy(&word, data, 4);
    sum += word;
    sum += sum < word;
    data += 4;
    length -= 4;
  }
  if (length >= 2) {
    uint16_t word;
    memcpy(&word, data, 2);
    sum += word;
    sum += sum < word;
    data += 2;
    length -= 2;
  }
  if (length == 1) {
    uint8_t last[2] = {data[0], 0};
    uint16_t word;
    memcpy(&word, last, 2);
    sum += word;
    sum += sum < word;
  }
  return sum;
}

// Folds a 64-bit sum to 16 bits (not complemented), in the native order of the words summed.
inline uint16_t ChecksumFold(uint64_t sum) {
  sum = (sum & 0xffffffffu) + (sum >> 32);
  sum = (sum & 0xffffffffu) + (sum >> 32);
  sum = (sum & 0xffffu) + (sum >> 16);
  sum = (sum & 0xffffu) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

// The sum of the TCP/UDP pseudo-header (RFC 9293 §3.1, RFC 8200 §8.1) for an IPv4 or IPv6 packet
// whose transport segment is `transport_length` bytes.
inline uint64_t PseudoHeaderSum(const uint8_t* ip, bool ipv6, uint8_t protocol, uint32_t transport_length) {
  uint8_t tail[8] = {};
  if (ipv6) {
    tail[0] = static_cast<uint8_t>(transport_length >> 24);
    tail[1] = static_cast<uint8_t>(transport_length >> 16);
    tail[2] = static_cast<uint8_t>(transport_length >> 8);
    tail[3] = static_cast<uint8_t>(transport_length);
    tail[7] = protocol;
    return ChecksumAdd(tail, 8, ChecksumAdd(ip + 8, 32, 0));
  }
  tail[1] = protocol;
  tail[2] = static_cast<uint8_t>(transport_length >> 8);
  tail[3] = static_cast<uint8_t>(transport_length);
  return ChecksumAdd(tail, 4, ChecksumAdd(ip + 12, 8, 0));
}

// Stores a 16-bit value already in native word order (a folded sum or its complement).
inline void StoreChecksum(uint8_t* at, uint16_t value) { memcpy(at, &value, 2); }

// Recomputes an IPv4 header's checksum (header_length bytes at `ip`).
inline void SetIpv4HeaderChecksum(uint8_t* ip, uint32_t header_length) {
  ip[10] = 0;
  ip[11] = 0;
  StoreChecksum(ip + 10, static_cast<uint16_t>(~ChecksumFold(ChecksumAdd(ip, header_length, 0))));
}

}  // namespace tunnel_native
