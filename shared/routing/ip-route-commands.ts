import { runIpBatch } from '../../native/index.js';
import { fromNative } from '../native-boundary.js';
import type { RouteCommands } from './kernel-routes.js';

/** Route commands through iproute2, one `ip -batch` per call. */
export const ipRouteCommands: RouteCommands = {
  apply: (lines) => fromNative(() => runIpBatch(lines)),
  applyTolerant: (lines) => fromNative(() => runIpBatch(lines, { tolerateFailures: true })),
};
