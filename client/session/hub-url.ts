import { TunnelError } from '../../shared/errors.js';

/** Default ports of the hub's front doors (as `tunnel-hub serve` uses them). */
const DEFAULT_PORTS = { ws: 8443, wss: 8443, ssh: 2222 } as const;

/** Where the hub is and which front door to use. */
export interface HubUrl {
  scheme: 'ws' | 'wss' | 'ssh';
  host: string;
  port: number;
  /** The SSH user name (= peer name), for ssh:// only. */
  user: string | null;
  /** The URL in canonical form, for the WebSocket client and the state file. */
  href: string;
}

/** Parses `ws://HOST:PORT`, `wss://HOST:PORT` or `ssh://NAME@HOST:PORT`; ERR_INVALID_ARGUMENT on anything else. */
export function parseHubUrl(text: string): HubUrl {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new TunnelError('ERR_INVALID_ARGUMENT', `"${text}" is not a URL; use ws://HOST:PORT, wss://HOST:PORT or ssh://NAME@HOST:PORT`);
  }
  const scheme = url.protocol.replace(/:$/, '');
  if (scheme !== 'ws' && scheme !== 'wss' && scheme !== 'ssh') {
    throw new TunnelError('ERR_INVALID_ARGUMENT', `unsupported scheme "${scheme}:"; use ws://, wss:// or ssh://`);
  }
  if (url.hostname === '') throw new TunnelError('ERR_INVALID_ARGUMENT', `"${text}" names no host`);
  const user = url.username === '' ? null : decodeURIComponent(url.username);
  if (scheme === 'ssh' && user === null) throw new TunnelError('ERR_INVALID_ARGUMENT', 'an ssh:// hub URL needs the peer name: ssh://NAME@HOST:PORT');
  if (scheme !== 'ssh' && (user !== null || url.password !== '')) {
    throw new TunnelError('ERR_INVALID_ARGUMENT', 'put credentials in --token, not in the URL');
  }
  const port = url.port === '' ? DEFAULT_PORTS[scheme] : Number(url.port);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const href = scheme === 'ssh' ? `ssh://${user ?? ''}@${url.host}` : `${scheme}://${url.host}${url.pathname === '/' ? '' : url.pathname}`;
  return { scheme, host, port, user, href };
}
