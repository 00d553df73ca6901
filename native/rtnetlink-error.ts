import { getSystemErrorMap } from 'node:util';
import { NativeError, type NativeErrorCode } from './native-error.js';

const PERMISSION = new Set(['EPERM', 'EACCES']);
// Limits a busy hub can reach: descriptors, kernel memory, socket buffers.
const LIMITS = new Set(['ENFILE', 'EMFILE', 'ENOBUFS', 'ENOMEM', 'ENOSPC']);

/** The code a refusal of the kernel gets: one a caller can act on, or count, for the common ones. */
export function codeOfErrno(errno: number): NativeErrorCode {
  const name = getSystemErrorMap().get(-errno)?.[0] ?? '';
  if (PERMISSION.has(name)) return 'ERR_PERMISSION';
  if (name === 'ENODEV') return 'ERR_DEVICE_NOT_FOUND';
  if (name === 'EEXIST') return 'ERR_ALREADY_EXISTS';
  if (LIMITS.has(name)) return 'ERR_RESOURCE_LIMIT';
  return 'ERR_SYSTEM';
}

/**
 * A refusal as a one-line NativeError naming the operation and interface: "setting the MTU of
 * tnl-x to 70000: Invalid argument: mtu greater than device maximum". `text` is the errno's
 * (strerror), `reason` the kernel's extended ack message, when it gave one; `code` the errno's
 * unless the request knows better.
 */
export function rtnetlinkError(errno: number, text: string, operation: string, interfaceName: string | undefined, reason = '', code = codeOfErrno(errno)): NativeError {
  const detail = reason === '' ? text : `${text}: ${reason}`;
  const message = code === 'ERR_PERMISSION' ? `${operation}: needs root or CAP_NET_ADMIN (${detail})` : `${operation}: ${detail}`;
  return new NativeError(code, message, { errno, operation, ...(interfaceName === undefined ? {} : { interfaceName }) });
}
