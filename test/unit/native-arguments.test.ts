import { describe, expect, it } from 'vitest';
import { createPacketBatch, openRawSocket, openTun, openUdpSocket, pathMtus } from '../../native/index.js';
import { isNativeError } from '../../native/native-error.js';
import { toNativeError } from '../../native/system-error.js';
import { errorCodeOf } from '../helpers/error-code.js';

// Everything here is refused before the addon is loaded: no I/O happens.

describe('createPacketBatch', () => {
  it('lays out capacity slots and per-slot arrays without overlap', () => {
    const batch = createPacketBatch(64, 2048);
    expect(batch.capacity).toBe(64);
    expect(batch.slotSize).toBe(2048);
    expect(batch.data.length).toBe(64 * 2048);
    for (const array of [batch.offsets, batch.lengths, batch.addrs, batch.ports]) expect(array.length).toBe(64);
    batch.data.fill(0xaa);
    batch.offsets.fill(0xffffffff);
    batch.lengths.fill(0xffffffff);
    batch.addrs.fill(0xffffffff);
    batch.ports.fill(0xffff);
    expect(batch.data.every((byte) => byte === 0xaa)).toBe(true);
    expect(batch.offsets.every((v) => v === 0xffffffff) && batch.lengths.every((v) => v === 0xffffffff)).toBe(true);
    expect(batch.addrs.every((v) => v === 0xffffffff) && batch.ports.every((v) => v === 0xffff)).toBe(true);
  });

  it('uses an odd slot size without misaligning the typed arrays', () => {
    const batch = createPacketBatch(3, 67);
    expect(batch.data.length).toBe(201);
    expect(batch.offsets.byteOffset % 4).toBe(0);
  });

  it.each([
    [0, 2048],
    [1025, 2048],
    [1.5, 2048],
    [8, 63],
    [8, 131073],
    [8, Number.NaN],
  ])('refuses capacity %s with slot size %s', (capacity, slotSize) => {
    expect(errorCodeOf(() => createPacketBatch(capacity, slotSize))).toBe('ERR_INVALID_ARGUMENT');
  });
});

describe('interface names', () => {
  it.each(['', 'a'.repeat(16), 'tun 0', 'tun/0', 'tun0;rm', '..', '.', 'tün0', 'tun%d'])('refuses %j', (name) => {
    expect(errorCodeOf(() => openTun(name))).toBe('ERR_INVALID_ARGUMENT');
  });

  it('refuses a name that is not a string', () => {
    expect(errorCodeOf(() => openTun(42 as unknown as string))).toBe('ERR_INVALID_ARGUMENT');
  });
});

describe('socket arguments', () => {
  it('refuses protocols other than GRE and IPIP', () => {
    expect(errorCodeOf(() => openRawSocket(17 as 47, '192.0.2.1'))).toBe('ERR_INVALID_ARGUMENT');
  });

  it('refuses bad local addresses, ports and TTLs', () => {
    expect(errorCodeOf(() => openRawSocket(47, '192.0.2'))).toBe('ERR_INVALID_ADDRESS');
    expect(errorCodeOf(() => openUdpSocket('192.0.2.1.5', 0))).toBe('ERR_INVALID_ADDRESS');
    expect(errorCodeOf(() => openUdpSocket('192.0.2.1', 65536))).toBe('ERR_INVALID_ARGUMENT');
    expect(errorCodeOf(() => openUdpSocket('192.0.2.1', -1))).toBe('ERR_INVALID_ARGUMENT');
    expect(errorCodeOf(() => openRawSocket(47, '192.0.2.1', { ttl: 0 }))).toBe('ERR_INVALID_ARGUMENT');
    expect(errorCodeOf(() => openRawSocket(47, '192.0.2.1', { ttl: 256 }))).toBe('ERR_INVALID_ARGUMENT');
  });

  it('reads path MTUs in one batch: null for a remote of the other family, a coded error for a bad address', () => {
    expect(pathMtus('127.0.0.1', ['127.0.0.1', '127.0.0.2', '::1'])).toEqual([65536 - 1, 65536 - 1, null]);
    expect(pathMtus('127.0.0.1', [])).toEqual([]);
    expect(errorCodeOf(() => pathMtus('127.0.0', ['127.0.0.1']))).toBe('ERR_INVALID_ADDRESS');
    expect(errorCodeOf(() => pathMtus('127.0.0.1', ['127.0.0.1', 'example.org']))).toBe('ERR_INVALID_ADDRESS');
  });

  it('refuses UDP segment sizes that are negative, fractional or beyond a UDP payload', () => {
    expect(errorCodeOf(() => openUdpSocket('192.0.2.1', 0, { segmentBytes: -1 }))).toBe('ERR_INVALID_ARGUMENT');
    expect(errorCodeOf(() => openUdpSocket('192.0.2.1', 0, { segmentBytes: 1.5 }))).toBe('ERR_INVALID_ARGUMENT');
    expect(errorCodeOf(() => openUdpSocket('192.0.2.1', 0, { segmentBytes: 65508 }))).toBe('ERR_INVALID_ARGUMENT');
  });
});

describe('errno mapping', () => {
  const nativeError = (fields: Record<string, unknown>): Error => Object.assign(new Error(String(fields.message ?? 'x')), fields);

  it('maps EPERM and EACCES to ERR_PERMISSION naming the capability', () => {
    const perm = toNativeError(nativeError({ code: 'EPERM', syscall: 'ioctl TUNSETIFF', message: 'ioctl TUNSETIFF: Operation not permitted' }), 'opening TUN device t0');
    expect(perm.code).toBe('ERR_PERMISSION');
    expect(perm.message).toContain('needs root or CAP_NET_ADMIN');
    const raw = toNativeError(nativeError({ code: 'EACCES', syscall: 'socket' }), 'opening raw socket', 'CAP_NET_RAW');
    expect(raw.code).toBe('ERR_PERMISSION');
    expect(raw.message).toContain('needs root or CAP_NET_RAW');
  });

  it('maps a missing /dev/net/tun to ERR_TUN_UNAVAILABLE, but ENOENT elsewhere to ERR_SYSTEM', () => {
    const missing = toNativeError(nativeError({ code: 'ENOENT', syscall: 'open /dev/net/tun' }), 'opening TUN device t0');
    expect(missing.code).toBe('ERR_TUN_UNAVAILABLE');
    expect(missing.message).toContain('TUN is not available on this system');
    expect(toNativeError(nativeError({ code: 'ENOENT', syscall: 'bind' }), 'x').code).toBe('ERR_SYSTEM');
  });

  it('maps closed descriptors, argument errors and everything else', () => {
    expect(toNativeError(nativeError({ closed: true }), 'x').code).toBe('ERR_CLOSED');
    expect(toNativeError(new TypeError('bad'), 'x').code).toBe('ERR_INVALID_ARGUMENT');
    const other = toNativeError(nativeError({ code: 'EBUSY', syscall: 'ioctl TUNSETIFF', message: 'ioctl TUNSETIFF: Device or resource busy' }), 'opening TUN device t0');
    expect(other.code).toBe('ERR_SYSTEM');
    expect(other.message).toBe('opening TUN device t0: ioctl TUNSETIFF: Device or resource busy');
    expect(isNativeError(toNativeError('weird', 'x'), 'ERR_SYSTEM')).toBe(true);
  });
});
