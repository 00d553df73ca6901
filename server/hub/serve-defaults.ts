/**
 * The embedded defaults of `tunnel-hub serve`, in a module of their own so the admin commands
 * that print them (e.g. `peer config`) do not load the daemon.
 */
export const SERVE_DEFAULTS = { listen: '0.0.0.0', wsPort: 8443, sshPort: 2222 } as const;
