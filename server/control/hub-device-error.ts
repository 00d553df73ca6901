import { channel } from 'node:diagnostics_channel';
import { TunnelError, isTunnelError } from '../../shared/errors.js';

/**
 * Why the kernel refused a member's tunnel device, as `tunnel_hub_device_errors_total{cause}`
 * counts it: a name another process's interface holds, a limit (descriptors, memory), missing
 * permission, or anything else the kernel said.
 */
export type DeviceErrorCause = 'name-clash' | 'limit' | 'permission' | 'kernel';

/** Every cause, for metrics that show each from the start. */
export const DEVICE_ERROR_CAUSES: readonly DeviceErrorCause[] = ['name-clash', 'limit', 'permission', 'kernel'];

/** A refused device: `{ cause, code, tunnel }` on every refusal (the hub logs only the first of each cause). */
export const hubDeviceErrorChannel = channel('tunnel:hub:device-error');

/**
 * The kernel refused the device of one member's tunnel: that member's session is closed with this
 * coded error (its code and message are the refusal's), everyone else is served on. The hub logs
 * it once per cause, not once per member, and counts every one.
 */
export class HubDeviceError extends TunnelError {
  constructor(error: TunnelError, readonly deviceCause: DeviceErrorCause) {
    super(error.code, error.message, { cause: error });
  }
}

/** The cause of a refusal of the device itself, or undefined for any other error (a bad spec, a claim). */
export function deviceErrorCause(err: unknown): DeviceErrorCause | undefined {
  if (!isTunnelError(err)) return undefined;
  switch (err.code) {
    case 'ERR_ALREADY_EXISTS':
      return 'name-clash';
    case 'ERR_RESOURCE_LIMIT':
      return 'limit';
    case 'ERR_PERMISSION':
      return 'permission';
    case 'ERR_TUN_UNAVAILABLE':
    case 'ERR_DEVICE_NOT_FOUND':
    case 'ERR_SYSTEM':
      return 'kernel';
    default:
      return undefined;
  }
}
