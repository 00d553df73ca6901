import { TunnelError, isTunnelError } from '../errors.js';
import { tunnelInterfaceName } from '../net/tunnel-interface-name.js';
import type { LinkEspKeys } from './link-esp-keys.js';
import type { LinkTable } from './link-table.js';
import { renderDyndnsHotplug } from './render-dyndns-hotplug.js';
import { renderIfconfig } from './render-ifconfig.js';
import { renderIproute2 } from './render-iproute2.js';
import { renderOpenwrt } from './render-openwrt.js';
import { renderOpenwrtEsp } from './render-openwrt-esp.js';
import { renderQnx } from './render-qnx.js';
import { renderRouteros } from './render-routeros.js';
import { renderSetkey } from './render-setkey.js';
import { renderXfrm } from './render-xfrm.js';

/** The systems `peer config NAME TARGET` and `ssh … config TARGET` render for. */
export const KERNEL_CONFIG_TARGETS = ['linux', 'freebsd', 'openbsd', 'netbsd', 'openwrt', 'routeros', 'qnx'] as const;

/** One of {@link KERNEL_CONFIG_TARGETS}. */
export type KernelConfigTarget = (typeof KERNEL_CONFIG_TARGETS)[number];

/** True when `word` names a target. */
export function isKernelConfigTarget(word: string | undefined): word is KernelConfigTarget {
  return (KERNEL_CONFIG_TARGETS as readonly string[]).includes(word ?? '');
}

/** What the whole rendering needs besides the tables. */
export interface PeerConfigOptions {
  /** The hub's dyndns2 URL (`https://HUB:PORT/nic/update`), for OpenWrt's update hook. */
  dyndnsUrl?: string;
  /** This peer's SAs of each encrypted link, by the index of its table (undefined: in the clear). */
  esp?: readonly (LinkEspKeys | undefined)[];
}

/** Why a target gets no ESP rendered: it takes no manual SAs, or this renderer does not write them. */
const NO_MANUAL_SAS: Readonly<Partial<Record<KernelConfigTarget, string>>> = {
  openbsd: 'OpenBSD keys ESP through ipsec.conf(5) and iked, and its manual SAs are not rendered here',
  netbsd: 'NetBSD\'s manual SAs (setkey) are not rendered here',
  routeros: 'RouterOS 7 takes no manual SAs (its IPsec is keyed by IKE only)',
  qnx: 'QNX io-pkt\'s IPsec is not rendered here',
};

/**
 * Every link of `peer` rendered for `target`, hub link first, each under a `# link …` comment.
 * The hub link must render: what the target cannot carry there is a coded error naming the fix
 * (`peer pin`, `peer set --no-key`). A peer<->peer link that cannot render says why in a comment,
 * so one link never hides the others. An encrypted link (its SAs in `options.esp`) is rendered
 * with its ESP first (`ip xfrm` on Linux, a hotplug hook on OpenWrt, setkey on FreeBSD), so no
 * tunnel packet ever leaves in the clear; other targets refuse it with ERR_TARGET_UNSUPPORTED.
 */
export function renderPeerConfig(tables: readonly LinkTable[], peer: string, target: KernelConfigTarget, options: PeerConfigOptions = {}): string {
  const devices = new Map<string, number>();
  const nextDevice = (kind: string): string => {
    const index = devices.get(kind) ?? 0;
    devices.set(kind, index + 1);
    return `${kind}${index}`;
  };
  const lines: string[] = [];
  tables.forEach((table, index) => {
    const other = table.ends.find((end) => end.name !== peer)?.name ?? '?';
    const esp = options.esp?.[index];
    lines.push(`# link ${table.prefix} to ${other} (${table.encap}${table.key != null ? `, key ${table.key}` : ''}, mtu ${table.mtu}${esp ? `, encrypted: ESP ${esp.aead}` : ''})`);
    try {
      lines.push(...(esp ? renderEncryptedLink(table, peer, other, target, esp, nextDevice) : renderLink(table, peer, other, target, nextDevice)), '');
    } catch (err) {
      if (!isTunnelError(err) || index === 0) throw err;
      lines.push(`# not rendered: ${err.code}: ${err.message}`, '');
    }
  });
  if (target === 'openwrt') {
    lines.push('/etc/init.d/network reload');
    if (options.dyndnsUrl !== undefined) lines.push('', ...renderDyndnsHotplug({ peer, url: options.dyndnsUrl }));
  }
  return `${lines.join('\n')}\n`;
}

function renderLink(table: LinkTable, peer: string, other: string, target: KernelConfigTarget, nextDevice: (kind: string) => string): string[] {
  const bsdDevice = (): string => nextDevice(table.encap === 'ipip' ? 'gif' : table.encap === 'gretap' ? 'egre' : 'gre');
  switch (target) {
    case 'linux':
      return renderIproute2(table, peer, { ifname: tunnelInterfaceName(other) });
    case 'freebsd':
    case 'openbsd':
    case 'netbsd':
      return renderIfconfig(table, peer, { flavor: target, ifname: bsdDevice() });
    case 'qnx':
      return renderQnx(table, peer, { ifname: bsdDevice() });
    case 'routeros':
      return renderRouteros(table, peer, { name: tunnelInterfaceName(other) });
    case 'openwrt':
      return ["uci batch <<'EOF'", ...renderOpenwrt(table, peer, { section: openwrtSection(other) }), 'commit network', 'EOF'];
    default:
      throw new TunnelError('ERR_INVALID_ARGUMENT', `unknown target "${String(target)}"`);
  }
}

/** An encrypted link: its ESP, then the tunnel it protects. */
function renderEncryptedLink(table: LinkTable, peer: string, other: string, target: KernelConfigTarget, esp: LinkEspKeys, nextDevice: (kind: string) => string): string[] {
  switch (target) {
    case 'linux':
      return [...renderXfrm(table, peer, esp), ...renderLink(table, peer, other, target, nextDevice)];
    case 'freebsd':
      return [...renderSetkey(table, peer, esp), ...renderLink(table, peer, other, target, nextDevice)];
    case 'openwrt':
      return [...renderOpenwrtEsp(table, peer, esp, { section: openwrtSection(other) }), ...renderLink(table, peer, other, target, nextDevice)];
    default: {
      const fix = other === 'hub' ? `\`tunnel-hub peer set ${peer} --encrypt off\`` : `\`tunnel-hub peer set ${peer} --encrypt off\` (or ${other})`;
      throw new TunnelError('ERR_TARGET_UNSUPPORTED', `${target} cannot take this encrypted link: ${NO_MANUAL_SAS[target] ?? 'no manual SAs'}; render for linux, openwrt or freebsd, or run ${fix} on the hub`);
    }
  }
}

/** `tc` + the other end's name as a UCI section: letters, digits, '_', at most 10 characters. */
function openwrtSection(other: string): string {
  return `tc${other.replace(/[^A-Za-z0-9_]/g, '_')}`.slice(0, 10);
}
