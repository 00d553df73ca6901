import { describe, expect, it } from 'vitest';
import { createPacketBatch, openRawSocket, openTun, openUdpSocket } from '../../native/index.js';
import { EspError } from '../../native/esp-error.js';
import { NativeError } from '../../native/native-error.js';
import type { NativePacketEndpoint } from '../../native/native-endpoint.js';
import type { FastRoute, FastRouteConfig } from '../../native/types.js';
import { nativeDatapathIo } from '../../shared/datapath/native-datapath-io.js';
import { TunnelError } from '../../shared/errors.js';
import { BoundaryEndpoint, BoundaryFastRoute, fromNative, tunnelErrorFromNative } from '../../shared/native-boundary.js';

// native/ raises NativeErrors; what crosses into shared/ raises TunnelErrors with the same code and message.

function thrown(action: () => unknown): unknown {
  try {
    action();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('the native boundary', () => {
  it('turns a NativeError into a TunnelError with the same code and message, and keeps it as the cause', () => {
    const native = new NativeError('ERR_PERMISSION', 'opening TUN device t0: needs root or CAP_NET_ADMIN', { errno: 1 });
    const mapped = tunnelErrorFromNative(native);
    expect(mapped).toBeInstanceOf(TunnelError);
    expect(mapped).toMatchObject({ code: 'ERR_PERMISSION', message: native.message, cause: native });
  });

  it('maps ESP\'s errors, which are NativeErrors too', () => {
    const esp = new EspError('ERR_INVALID_KEY', 'ESP SA 0x00000100: an aes-gcm key with its 4-byte salt is 20, 36 bytes, got 3');
    expect(esp).toBeInstanceOf(NativeError);
    expect(tunnelErrorFromNative(esp)).toMatchObject({ name: 'TunnelError', code: 'ERR_INVALID_KEY', message: esp.message, cause: esp });
  });

  it('leaves other errors as they are', () => {
    const other = new RangeError('x');
    expect(tunnelErrorFromNative(other)).toBe(other);
    expect(thrown(() => fromNative(() => { throw other; }))).toBe(other);
  });

  it('gives the datapath the same codes and messages native/ gives, as TunnelErrors', async () => {
    const pairs: [() => unknown, () => unknown][] = [
      [() => createPacketBatch(0, 2048), () => nativeDatapathIo.createPacketBatch(0, 2048)],
      [() => openRawSocket(47, '192.0.2', { ttl: 64 }), () => nativeDatapathIo.openRawSocket(47, '192.0.2', { ttl: 64 })],
      [() => openUdpSocket('192.0.2.1', 0, { ttl: 0 }), () => nativeDatapathIo.openUdpSocket('192.0.2.1', 0, { ttl: 0 })],
    ];
    for (const [direct, boundary] of pairs) {
      const native = thrown(direct);
      const mapped = thrown(boundary);
      expect(native).toBeInstanceOf(NativeError);
      expect(mapped).toBeInstanceOf(TunnelError);
      const { code, message } = native as NativeError;
      expect(mapped).toMatchObject({ code, message });
    }
    // Opening a TUN is asynchronous (off the event loop): the same refusal, as a rejection.
    const native = thrown(() => openTun('bad name'));
    await expect(nativeDatapathIo.openTun('bad name')).rejects.toMatchObject({ name: 'TunnelError', code: (native as NativeError).code, message: (native as NativeError).message });
  });

  it('maps what an endpoint throws, and hands a fast route the endpoints behind the boundary', () => {
    const closed = new NativeError('ERR_CLOSED', 'UDP socket 127.0.0.1:1: cannot read: the device or socket is closed');
    const inner = {
      closed: true,
      readBatch: () => { throw closed; },
    } as unknown as NativePacketEndpoint;
    const endpoint = new BoundaryEndpoint(inner);
    expect(thrown(() => endpoint.readBatch(createPacketBatch(1, 64)))).toMatchObject({ name: 'TunnelError', code: 'ERR_CLOSED', message: closed.message });
    const configured: FastRouteConfig[] = [];
    const route = new BoundaryFastRoute({ configure: (config) => configured.push(config), counters: () => { throw closed; }, close: () => undefined } as FastRoute);
    route.configure({ tun: endpoint, outer: null } as unknown as FastRouteConfig);
    expect(configured[0]?.tun).toBe(inner);
    expect(thrown(() => route.counters())).toBeInstanceOf(TunnelError);
  });
});
