import type { RequestListener } from 'node:http';
import { ERROR_HEADER, isAuthRefusal } from '../../shared/protocol/index.js';
import type { ConnectionGate } from './connection-gate.js';

/**
 * Wraps an HTTP handler that checks credentials itself (the dyndns2 update) so that its refusals
 * count as failed logins at the gate, by the code in its `x-tunnel-error` header: a source that
 * keeps guessing keys waits like one that keeps guessing tokens, kept-alive connection or not.
 */
export function countHttpLogins(gate: ConnectionGate, handler: RequestListener): RequestListener {
  return (request, response) => {
    const source = request.socket.remoteAddress ?? '';
    if (gate.refuseIfBlocked(source, request.socket)) return;
    // With one header set beforehand, writeHead(status, headers) merges its headers into the
    // response's own, where getHeader() reads the error code back once it is sent.
    response.setHeader('cache-control', 'no-store');
    response.once('finish', () => {
      const code = response.getHeader(ERROR_HEADER);
      if (typeof code === 'string' && isAuthRefusal(code)) gate.loginFailed(source, code);
      else if (response.statusCode === 200) gate.loginSucceeded(source);
    });
    handler(request, response);
  };
}
