import { NativeError } from './native-error.js';

/** Linux interface names: 1..15 bytes (IFNAMSIZ less the NUL); this set is safe everywhere. */
const INTERFACE_NAME = /^[A-Za-z0-9_.-]{1,15}$/;

/** Throws ERR_INVALID_ARGUMENT unless `name` is a usable Linux interface name. */
export function assertInterfaceName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !INTERFACE_NAME.test(name) || name === '.' || name === '..') {
    throw new NativeError(
      'ERR_INVALID_ARGUMENT',
      `bad interface name ${JSON.stringify(name)}: use 1 to 15 characters from A-Z a-z 0-9 _ . -`,
    );
  }
}
