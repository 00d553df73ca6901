import { readFileSync } from 'node:fs';

/**
 * When (ms since the epoch) the last whole packet in a pcap file was captured; 0 while it holds
 * none. A packet tcpdump is still writing is not counted, so a test may poll the file as it grows.
 */
export function lastCaptureMs(file: string): number {
  const pcap = readFileSync(file);
  let last = 0;
  // A 24-byte file header, then per packet 16 bytes (seconds, microseconds, captured length, length) and the bytes.
  for (let at = 24; at + 16 <= pcap.length;) {
    const end = at + 16 + pcap.readUInt32LE(at + 8);
    if (end > pcap.length) break;
    last = pcap.readUInt32LE(at) * 1000 + pcap.readUInt32LE(at + 4) / 1000;
    at = end;
  }
  return last;
}
