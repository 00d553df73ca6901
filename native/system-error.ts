import { getSystemErrorMap } from 'node:util';
import { NativeError } from './native-error.js';

/** The errno's name ("EBUSY"), or "" for one Node does not know. */
export function systemErrorName(errno: number): string {
  return getSystemErrorMap().get(-errno)?.[0] ?? '';
}

/** The errno's text ("Device or resource busy"), or "errno N". */
export function systemErrorText(errno: number): string {
  return getSystemErrorMap().get(-errno)?.[1] ?? `errno ${errno}`;
}

/** The fields the addon sets on the errors it throws (native/src/system-error.cc). */
interface NativeErrorFields {
  code?: unknown;
  errno?: unknown;
  syscall?: unknown;
  closed?: unknown;
  message?: unknown;
}

/** Which capability an operation needs, named in permission errors. */
export type NeededCapability = 'CAP_NET_ADMIN' | 'CAP_NET_RAW';

/**
 * Turns an error thrown by the addon into a NativeError. `action` names what was being done
 * ("opening TUN device tnl-hub"); the native error stays attached as `cause`.
 */
export function toNativeError(err: unknown, action: string, capability: NeededCapability = 'CAP_NET_ADMIN'): NativeError {
  if (err instanceof NativeError) return err;
  const fields = (typeof err === 'object' && err !== null ? err : {}) as NativeErrorFields;
  const detail = typeof fields.message === 'string' ? fields.message : String(err);
  if (fields.closed === true) {
    return new NativeError('ERR_CLOSED', `${action}: the device or socket is closed`, { cause: err });
  }
  if (err instanceof TypeError) {
    return new NativeError('ERR_INVALID_ARGUMENT', `${action}: ${detail}`, { cause: err });
  }
  const code = typeof fields.code === 'string' ? fields.code : '';
  const syscall = typeof fields.syscall === 'string' ? fields.syscall : '';
  const errno = typeof fields.errno === 'number' ? fields.errno : undefined;
  if (code === 'EACCES' && syscall === 'open /dev/net/tun') {
    return new NativeError('ERR_PERMISSION', `${action}: needs root or CAP_NET_ADMIN, and /dev/net/tun readable and writable by this user (usually mode 0666; a systemd unit needs DeviceAllow=/dev/net/tun rw) (${detail})`, { errno, cause: err });
  }
  if (code === 'EPERM' || code === 'EACCES') {
    return new NativeError('ERR_PERMISSION', `${action}: needs root or ${capability} (${detail})`, { errno, cause: err });
  }
  if ((code === 'ENOENT' || code === 'ENODEV' || code === 'ENXIO') && syscall === 'open /dev/net/tun') {
    return new NativeError('ERR_TUN_UNAVAILABLE', `${action}: TUN is not available on this system (${detail})`, { errno, cause: err });
  }
  return new NativeError('ERR_SYSTEM', `${action}: ${detail}`, { errno, cause: err });
}
