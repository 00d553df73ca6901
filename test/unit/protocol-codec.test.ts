import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeMessage, encodeMessage, isEncodedKeepalive, LineFramer, MAX_MESSAGE_BYTES, type OutgoingMessage } from '../../shared/protocol/index.js';
import { isTunnelError } from '../../shared/errors.js';
import { errorCodeOf } from '../helpers/error-code.js';

const spec = {
  name: 'tnl-hub', encap: 'gre', local: '203.0.113.10', remote: '198.51.100.1', key: 4660,
  address: '10.1.12.38/30', peerAddress: '10.1.12.37', mtu: 1472,
} as const;

describe('control message codec', () => {
  it('round-trips every message type with the version stamped', () => {
    const messages: OutgoingMessage[] = [
      { type: 'hello', software: 'tunnel-client/0.1.0', endpoint: '203.0.113.10' },
      { type: 'hello', software: 'x', endpoint: null },
      { type: 'welcome', peer: 'alice', session: 's1', sessionKey: 'A'.repeat(43), keepaliveMs: 10_000, seen: '203.0.113.10' },
      { type: 'report', endpoint: { address: '203.0.113.11' } },
      {
        type: 'config', version: 3, tunnels: [spec],
        links: [{ prefix: '10.1.12.36/30', encap: 'gre', key: 4660, mtu: 1472,
          ends: [{ name: 'hub', public: '198.51.100.1', inner: '10.1.12.37' }, { name: 'alice', public: null, inner: '10.1.12.38' }] }],
      },
      { type: 'ack', version: 3 },
      { type: 'keepalive' },
      { type: 'error', code: 'ERR_PROTOCOL', message: 'nope' },
    ];
    for (const message of messages) {
      const text = encodeMessage(message);
      expect(JSON.parse(text).v).toBe(1);
      expect(decodeMessage(text)).toEqual({ v: 1, ...message });
      expect(decodeMessage(Buffer.from(text))).toEqual({ v: 1, ...message });
    }
  });

  it('refuses malformed JSON, unknown types, extra fields and bad addresses with ERR_PROTOCOL', () => {
    expect(errorCodeOf(() => decodeMessage('{not json'))).toBe('ERR_PROTOCOL');
    expect(errorCodeOf(() => decodeMessage('"hello"'))).toBe('ERR_PROTOCOL');
    expect(errorCodeOf(() => decodeMessage('{"v":1,"type":"bogus"}'))).toBe('ERR_PROTOCOL');
    expect(errorCodeOf(() => decodeMessage('{"v":1,"type":"keepalive","extra":1}'))).toBe('ERR_PROTOCOL');
    expect(errorCodeOf(() => decodeMessage('{"v":1,"type":"report","endpoint":{"address":"203.0.113.300"}}'))).toBe('ERR_PROTOCOL');
    expect(errorCodeOf(() => decodeMessage('{"v":1,"type":"report","endpoint":{"address":"010.0.0.1"}}'))).toBe('ERR_PROTOCOL');
    expect(errorCodeOf(() => decodeMessage('{"type":"keepalive"}'))).toBe('ERR_PROTOCOL');
    expect(errorCodeOf(() => decodeMessage(JSON.stringify({ v: 1, type: 'config', version: 1, tunnels: [{ ...spec, name: 'much-too-long-interface' }], links: [] })))).toBe('ERR_PROTOCOL');
    expect(errorCodeOf(() => decodeMessage('{"v":1,"type":"ack","version":0}'))).toBe('ERR_PROTOCOL');
  });

  it('refuses another protocol version with ERR_UNSUPPORTED_VERSION', () => {
    expect(errorCodeOf(() => decodeMessage('{"v":2,"type":"hello","software":"x","endpoint":null}'))).toBe('ERR_UNSUPPORTED_VERSION');
    expect(errorCodeOf(() => decodeMessage('{"v":"1","type":"keepalive"}'))).toBe('ERR_UNSUPPORTED_VERSION');
  });

  it('refuses oversized messages before parsing them', () => {
    const big = JSON.stringify({ v: 1, type: 'error', code: 'ERR_PROTOCOL', message: 'x'.repeat(MAX_MESSAGE_BYTES) });
    expect(errorCodeOf(() => decodeMessage(big))).toBe('ERR_MESSAGE_TOO_LARGE');
    expect(errorCodeOf(() => encodeMessage({ type: 'error', code: 'ERR_PROTOCOL', message: 'x'.repeat(MAX_MESSAGE_BYTES) }))).toBe('ERR_MESSAGE_TOO_LARGE');
  });

  it('never throws anything but a coded TunnelError on arbitrary input', () => {
    fc.assert(fc.property(fc.oneof(fc.string(), fc.json(), fc.uint8Array({ maxLength: 256 }).map((b) => Buffer.from(b))), (input) => {
      try {
        decodeMessage(input);
      } catch (err) {
        expect(isTunnelError(err)).toBe(true);
      }
    }), { numRuns: 500 });
  });
});

describe('isEncodedKeepalive', () => {
  it('is true only for a keepalive exactly as encodeMessage writes it, which decodes as a keepalive', () => {
    const encoded = encodeMessage({ type: 'keepalive' });
    expect(isEncodedKeepalive(encoded)).toBe(true);
    expect(isEncodedKeepalive(Buffer.from(encoded))).toBe(true);
    expect(decodeMessage(encoded)).toEqual({ v: 1, type: 'keepalive' });
    // Spelt another way, or another message of the same length: parsed as usual.
    for (const other of [' {"v":1,"type":"keepalive"}', '{"type":"keepalive","v":1}', '{"v":2,"type":"keepalive"}', '{"v":1,"type":"keepaliv"}', '']) {
      expect(isEncodedKeepalive(other)).toBe(false);
      expect(isEncodedKeepalive(Buffer.from(other))).toBe(false);
    }
  });
});

describe('LineFramer', () => {
  it('splits lines across arbitrary chunk boundaries', () => {
    fc.assert(fc.property(fc.array(fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !s.includes('\n')), { maxLength: 20 }),
      fc.array(fc.integer({ min: 1, max: 17 }), { minLength: 1, maxLength: 10 }), (lines, cuts) => {
        const stream = Buffer.from(lines.map((l) => `${l}\n`).join(''));
        const framer = new LineFramer();
        const out: string[] = [];
        let at = 0;
        for (let i = 0; at < stream.length; i++) {
          const size = cuts[i % cuts.length] ?? 1;
          for (const line of framer.push(stream.subarray(at, at + size))) out.push(line.toString());
          at += size;
        }
        expect(out).toEqual(lines.filter((l) => Buffer.byteLength(l) > 0));
      }));
  });

  it('refuses a line longer than the limit even before its newline arrives', () => {
    const framer = new LineFramer();
    framer.push(Buffer.alloc(MAX_MESSAGE_BYTES - 10, 0x61));
    expect(errorCodeOf(() => framer.push(Buffer.alloc(20, 0x61)))).toBe('ERR_MESSAGE_TOO_LARGE');
  });
});
