/** What the OpenWrt update hook needs. */
export interface DyndnsHotplugOptions {
  peer: string;
  /** The hub's dyndns2 URL without credentials, e.g. `https://hub.example:8443/nic/update`. */
  url: string;
  /** Where the router keeps its key (mode 0600), written once from `tunnel-hub peer update-key`. */
  keyFile?: string;
  /** The logical WAN interface whose ifup/ifupdate events trigger an update. */
  wan?: string;
}

/** Where the hook is installed: hotplug runs every script in this folder on interface events. */
export const DYNDNS_HOTPLUG_PATH = '/etc/hotplug.d/iface/95-tunnel-hub';

/**
 * A shell snippet that installs an OpenWrt hotplug script: on `ifup` or `ifupdate` of the WAN,
 * it calls the hub's dyndns2 URL with `uclient-fetch` (OpenWrt's default fetcher) or `wget`,
 * credentials in the URL as ddns-scripts sends them, no `myip`: the hub takes the address the
 * request comes from, which is the WAN's. The answer goes to the system log.
 */
export function renderDyndnsHotplug(options: DyndnsHotplugOptions): string[] {
  const keyFile = options.keyFile ?? '/etc/tunnel-hub.key';
  const wan = options.wan ?? 'wan';
  const url = new URL(options.url);
  const authority = `${url.protocol}//${options.peer}:$KEY@${url.host}${url.pathname}?hostname=${encodeURIComponent(options.peer)}`;
  return [
    `# dyndns2 update hook: put the key from \`tunnel-hub peer update-key ${options.peer}\` in ${keyFile} (chmod 600)`,
    `cat >${DYNDNS_HOTPLUG_PATH} <<'EOF'`,
    '#!/bin/sh',
    `[ "$INTERFACE" = "${wan}" ] || exit 0`,
    'case "$ACTION" in ifup|ifupdate) ;; *) exit 0 ;; esac',
    `KEY=$(cat ${keyFile}) || exit 0`,
    `URL="${authority}"`,
    'if command -v uclient-fetch >/dev/null; then FETCH="uclient-fetch -q -O -"; else FETCH="wget -q -O -"; fi',
    '$FETCH "$URL" 2>&1 | logger -t tunnel-hub',
    'EOF',
  ];
}
