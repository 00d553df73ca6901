import { runIpBatch } from '../../native/index.js';
import type { RouteCommands } from './kernel-routes.js';

/** Route commands through iproute2, one `ip -batch` per call. */
export const ipRouteCommands: RouteCommands = {
  apply: (lines) => runIpBatch(lines),
  applyTolerant: (lines) => runIpBatch(lines, { tolerateFailures: true }),
};
