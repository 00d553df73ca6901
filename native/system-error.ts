import { TunnelError } from '../shared/errors.js';

/** The fields the addon sets on the errors it throws (native/src/system-error.cc). */
interface NativeErrorFields {
  code?: unknown;
  syscall?: unknown;
  closed?: unknown;
  message?: unknown;
}

/** Which capability an operation needs, named in permission errors. */
export type NeededCapability = 'CAP_NET_ADMIN' | 'CAP_NET_RAW';

/**
 * Turns an error thrown by the addon into a TunnelError. `action` names what was being done
 * ("opening TUN device tnl-hub"); the native error stays attached as `cause`.
 */
export function toTunnelError(err: unknown, action: string, capability: NeededCapability = 'CAP_NET_ADMIN'): TunnelError {
  if (err instanceof TunnelError) return err;
  const fields = (typeof err === 'object' && err !== null ? err : {}) as NativeErrorFields;
  const detail = typeof fields.message === 'string' ? fields.message : String(err);
  if (fields.closed === true) {
    return new TunnelError('ERR_CLOSED', `${action}: the device or socket is closed`, { cause: err });
  }
  if (err instanceof TypeError) {
    return new TunnelError('ERR_INVALID_ARGUMENT', `${action}: ${detail}`, { cause: err });
  }
  const code = typeof fields.code === 'string' ? fields.code : '';
  const syscall = typeof fields.syscall === 'string' ? fields.syscall : '';
  if (code === 'EACCES' && syscall === 'open /dev/net/tun') {
    return new TunnelError('ERR_PERMISSION', `${action}: needs root or CAP_NET_ADMIN, and /dev/net/tun readable and writable by this user (usually mode 0666; a systemd unit needs DeviceAllow=/dev/net/tun rw) (${detail})`, { cause: err });
  }
  if (code === 'EPERM' || code === 'EACCES') {
    return new TunnelError('ERR_PERMISSION', `${action}: needs root or ${capability} (${detail})`, { cause: err });
  }
  if ((code === 'ENOENT' || code === 'ENODEV' || code === 'ENXIO') && syscall === 'open /dev/net/tun') {
    return new TunnelError('ERR_TUN_UNAVAILABLE', `${action}: TUN is not available on this system (${detail})`, {
      cause: err,
    });
  }
  return new TunnelError('ERR_SYSTEM', `${action}: ${detail}`, { cause: err });
}
