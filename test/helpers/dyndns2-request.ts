import { request } from 'node:http';
import { request as tlsRequest } from 'node:https';

/** What the hub answered a dyndns2 request. */
export interface Dyndns2Reply {
  status: number;
  body: string;
  /** The TunnelErrorCode of a refusal (`x-tunnel-error`), or undefined. */
  code: string | undefined;
  headers: Record<string, string | string[] | undefined>;
}

/** Sends a dyndns2 request to the hub on 127.0.0.1:`port`, optionally from another loopback address. */
export function dyndns2Request(port: number, options: {
  query: string;
  auth?: string;
  /** The raw Authorization header, instead of `auth`. */
  authorization?: string;
  localAddress?: string;
  method?: string;
  /** Use HTTPS, trusting this CA certificate (PEM). */
  ca?: Buffer;
}): Promise<Dyndns2Reply> {
  return new Promise((resolveReply, rejectReply) => {
    const headers: Record<string, string> = {};
    if (options.auth !== undefined) headers.authorization = `Basic ${Buffer.from(options.auth).toString('base64')}`;
    if (options.authorization !== undefined) headers.authorization = options.authorization;
    const send = options.ca ? tlsRequest : request;
    const req = send({
      // A fresh connection per request, as a router's client makes: no pooled socket to a hub
      // that a test restarted.
      agent: false,
      ...(options.ca ? { ca: options.ca } : {}),
      host: '127.0.0.1', port, path: `/nic/update?${options.query}`, method: options.method ?? 'GET', headers,
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
    }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => { body += chunk; });
      res.on('end', () => resolveReply({
        status: res.statusCode ?? 0, body, code: res.headers['x-tunnel-error'] as string | undefined, headers: res.headers,
      }));
    });
    req.on('error', rejectReply);
    req.end();
  });
}
