import { TunnelError } from '../../shared/errors.js';
import type { Encapsulation } from '../../shared/net/encapsulation.js';
import { describeLinkSubnet } from '../../shared/net/link-subnet.js';
import type { SshPublicKey } from '../auth/ssh-public-key.js';
import type { AuditLog } from './audit-log.js';
import type { EndpointRecord, EndpointStore } from './endpoint-store.js';
import type { HubSettingsStore } from './hub-settings.js';
import type { InviteStore } from './invite-store.js';
import type { LinkRecord, LinkStore } from './link-store.js';
import { requirePeerId } from './peer-id.js';
import { validatePeerName } from './peer-name.js';
import type { PoolStore } from './pool-store.js';
import type { RegistryContext } from './registry-context.js';

/** A peer's identity and credentials state. */
export interface PeerRecord {
  readonly name: string;
  /** Peer tokens carrying any other version are revoked (versions are unique hub-wide). */
  readonly tokenVersion: number;
  /** An encapsulation fixed for this peer's links, or null for the default (GRE). */
  readonly pinnedEncap: Encapsulation | null;
  readonly createdAt: number;
  /** When `peer revoke` cut the peer off (every credential refused until `peer restore`), or null. */
  readonly revokedAt: number | null;
  /** `peer set NAME --encrypt on|off`, or null to follow the hub's default (server/registry/peer-encryption-store.ts). */
  readonly encrypt: 'on' | 'off' | null;
}

/** A registered SSH public key. */
export interface SshKeyRecord extends SshPublicKey {
  readonly addedAt: number;
}

/** One line of `peer list`. */
export interface PeerSummary extends PeerRecord {
  /** The peer's hub link /30. */
  readonly prefix: string;
  /** The peer's own address on that /30. */
  readonly inner: string;
  /** Latest known public address, or null. */
  readonly public: string | null;
  readonly sshKeys: number;
  /** Links the peer is an end of, its hub link included. */
  readonly links: number;
}

/** Everything `peer show` prints. */
export interface PeerDetail extends PeerRecord {
  readonly sshKeys: SshKeyRecord[];
  readonly links: LinkRecord[];
  readonly endpoint: EndpointRecord | null;
}

/** What {@link PeerStore.add} needs. */
export interface NewPeer {
  readonly name: string;
  readonly sshKey?: SshPublicKey;
  /** Take the hub link's /30 from this pool only. */
  readonly pool?: string;
  /** Spend one use of this invite in the same transaction (its pool, if any, applies). */
  readonly inviteJti?: string;
  /** Run the hub link's GRE without a key (routers that cannot set one). */
  readonly keyless?: boolean;
}

const SELECT_PEER = 'SELECT name, token_version AS "tokenVersion", (SELECT encap FROM peer_pins WHERE peer_id = peers.id) AS "pinnedEncap", created_at AS "createdAt", revoked_at AS "revokedAt", (SELECT encrypt FROM peer_encryption WHERE peer_id = peers.id) AS "encrypt" FROM peers';

const SELECT_SUMMARY = `
  SELECT p.name, p.token_version AS "tokenVersion", (SELECT encap FROM peer_pins WHERE peer_id = p.id) AS "pinnedEncap", p.created_at AS "createdAt", p.revoked_at AS "revokedAt",
         (SELECT encrypt FROM peer_encryption WHERE peer_id = p.id) AS "encrypt", a.network,
         (SELECT e.address FROM endpoints e WHERE e.peer_id = p.id ORDER BY e.id DESC LIMIT 1) AS "public",
         (SELECT count(*) FROM ssh_keys k WHERE k.peer_id = p.id) AS "sshKeys",
         (SELECT count(*) FROM links o WHERE o.end_a = p.id OR o.end_b = p.id) AS links
  FROM peers p
  JOIN links l ON l.end_a IS NULL AND l.end_b = p.id
  JOIN allocations a ON a.link_id = l.id
  ORDER BY p.name`;

const SELECT_KEYS = `
  SELECT algorithm, public_key AS "publicKey", comment, fingerprint, added_at AS "addedAt"
  FROM ssh_keys WHERE peer_id = ? ORDER BY id`;

/** Peers: names, SSH keys, token versions; adding one also creates its hub link and /30. */
export class PeerStore {
  constructor(
    private readonly ctx: RegistryContext,
    private readonly settings: HubSettingsStore,
    private readonly pools: PoolStore,
    private readonly links: LinkStore,
    private readonly invites: InviteStore,
    private readonly endpoints: EndpointStore,
    private readonly audit: AuditLog,
  ) {}

  /**
   * Adds a peer with its hub link and /30 (and SSH key, and invite use) in one transaction:
   * if any part is refused, nothing changes.
   */
  async add(peer: NewPeer): Promise<{ peer: PeerRecord; hubLink: LinkRecord }> {
    validatePeerName(peer.name);
    return this.ctx.transaction((tx) => tx.peers.insert(peer));
  }

  /** Registers another SSH key for an existing peer (e.g. the key a client made on first join). */
  addSshKey(name: string, key: SshPublicKey): Promise<SshKeyRecord> {
    return this.ctx.transaction((tx) => tx.peers.insertSshKey(name, key));
  }

  /** The peer named `name`, or undefined. */
  find(name: string): Promise<PeerRecord | undefined> {
    return this.ctx.sql.get<PeerRecord>(`${SELECT_PEER} WHERE name = ?`, name);
  }

  /** The peer named `name`, or ERR_PEER_NOT_FOUND. */
  async require(name: string): Promise<PeerRecord> {
    const peer = await this.find(name);
    if (!peer) throw new TunnelError('ERR_PEER_NOT_FOUND', `no peer named "${name}"; see \`tunnel-hub peer list\``);
    return peer;
  }

  /** The peer owning the SSH key with this `SHA256:` fingerprint, or undefined. */
  findBySshFingerprint(fingerprint: string): Promise<PeerRecord | undefined> {
    return this.ctx.sql.get<PeerRecord>(`${SELECT_PEER} WHERE id = (SELECT peer_id FROM ssh_keys WHERE fingerprint = ?)`, fingerprint);
  }

  /** All peers by name, each with its hub link address and latest public address. */
  async list(): Promise<PeerSummary[]> {
    const rows = await this.ctx.sql.all<Omit<PeerSummary, 'prefix' | 'inner'> & { network: number }>(SELECT_SUMMARY);
    return rows.map(({ network, ...row }) => {
      const subnet = describeLinkSubnet(network);
      return { ...row, prefix: subnet.prefix, inner: subnet.secondEnd };
    });
  }

  /** A peer with its keys, links and latest endpoint. */
  async show(name: string): Promise<PeerDetail> {
    const peer = await this.require(name);
    return {
      ...peer,
      sshKeys: await this.keysOf(await requirePeerId(this.ctx, name)),
      links: await this.links.listForPeer(name),
      endpoint: await this.endpoints.latest(name),
    };
  }

  /** Removes a peer with its keys, endpoints and links; their /30s go back to the pools. */
  remove(name: string): Promise<{ released: string[] }> {
    return this.ctx.transaction((tx) => tx.peers.delete(name));
  }

  /**
   * Cuts the peer off: every token issued so far is void (new hub-wide version) and the peer is
   * marked revoked, so its own key (SSH or client token) is refused too until {@link restore}.
   * Returns the new token version.
   */
  revoke(name: string): Promise<number> {
    return this.ctx.transaction((tx) => tx.peers.markRevoked(name));
  }

  /**
   * Re-admits a revoked peer: its registered keys work again. Hub-issued tokens from before the
   * revocation stay void; `peer add`-style tokens issued from now on carry the current version.
   */
  restore(name: string): Promise<PeerRecord> {
    return this.ctx.transaction((tx) => tx.peers.clearRevoked(name));
  }

  /** Fixes (or with null, frees) the encapsulation of the peer's links, e.g. after GRE fails. */
  setPinnedEncap(name: string, encap: Encapsulation | null): Promise<PeerRecord> {
    return this.ctx.transaction((tx) => tx.peers.writePinnedEncap(name, encap));
  }

  /** Lets the hub make shortcuts for the peer, or not (`peer set NAME --shortcuts on|off`); true when that changed. */
  setShortcuts(name: string, on: boolean): Promise<boolean> {
    return this.ctx.transaction((tx) => tx.peers.writeShortcuts(name, on));
  }

  /** Whether the hub may make shortcuts for the peer (on unless the operator said off). */
  async shortcutsOn(name: string): Promise<boolean> {
    const row = await this.ctx.sql.get<{ shortcuts: number }>('SELECT shortcuts FROM peers WHERE name = ?', name);
    if (!row) await this.require(name);
    return row?.shortcuts === 1;
  }

  /** The peers with shortcuts off, by name. */
  async shortcutsOff(): Promise<string[]> {
    return (await this.ctx.sql.all<{ name: string }>('SELECT name FROM peers WHERE shortcuts = 0')).map((row) => row.name).sort();
  }

  private async writeShortcuts(name: string, on: boolean): Promise<boolean> {
    const id = await requirePeerId(this.ctx, name);
    const { changes } = await this.ctx.sql.run('UPDATE peers SET shortcuts = ? WHERE id = ? AND shortcuts <> ?', on ? 1 : 0, id, on ? 1 : 0);
    if (changes > 0) await this.audit.record('peer.shortcuts', name, { on });
    return changes > 0;
  }

  private async insert(peer: NewPeer): Promise<{ peer: PeerRecord; hubLink: LinkRecord }> {
    if (await this.find(peer.name)) throw new TunnelError('ERR_PEER_EXISTS', `peer "${peer.name}" already exists`);
    let poolId = peer.pool === undefined ? undefined : (await this.pools.require(peer.pool)).id;
    if (peer.inviteJti !== undefined) {
      await this.invites.redeem(peer.inviteJti);
      poolId ??= await this.invites.poolIdOf(peer.inviteJti);
    }
    const record: PeerRecord = { name: peer.name, tokenVersion: await this.settings.takeTokenVersion(), pinnedEncap: null, createdAt: this.ctx.clock(), revokedAt: null, encrypt: null };
    const { id } = await this.ctx.sql.get<{ id: number }>('INSERT INTO peers (name, token_version, created_at) VALUES (?, ?, ?) RETURNING id',
      record.name, record.tokenVersion, record.createdAt) as { id: number };
    if (peer.sshKey) await this.insertKey(id, peer.name, peer.sshKey);
    const hubLink = await this.links.createHubLink({ id, name: peer.name }, poolId, peer.keyless === true);
    await this.audit.record('peer.add', peer.name, {
      prefix: hubLink.prefix,
      fingerprint: peer.sshKey?.fingerprint ?? null,
      invite: peer.inviteJti ?? null,
      ...(peer.keyless === true ? { keyless: true } : {}),
    });
    return { peer: record, hubLink };
  }

  private async insertSshKey(name: string, key: SshPublicKey): Promise<SshKeyRecord> {
    const id = await requirePeerId(this.ctx, name);
    await this.insertKey(id, name, key);
    await this.audit.record('peer.ssh-key.add', name, { fingerprint: key.fingerprint, algorithm: key.algorithm });
    return (await this.keysOf(id)).find((k) => k.fingerprint === key.fingerprint) as SshKeyRecord;
  }

  private async delete(name: string): Promise<{ released: string[] }> {
    const released = (await this.links.listForPeer(name)).map((link) => link.prefix);
    await this.ctx.sql.run('DELETE FROM peers WHERE id = ?', await requirePeerId(this.ctx, name));
    await this.audit.record('peer.remove', name, { released });
    return { released };
  }

  private async markRevoked(name: string): Promise<number> {
    const id = await requirePeerId(this.ctx, name);
    const { tokenVersion } = await this.ctx.sql.get<{ tokenVersion: number }>(
      'UPDATE peers SET token_version = ?, revoked_at = ? WHERE id = ? RETURNING token_version AS "tokenVersion"',
      await this.settings.takeTokenVersion(), this.ctx.clock(), id) as { tokenVersion: number };
    await this.audit.record('peer.revoke', name, { tokenVersion });
    return tokenVersion;
  }

  private async clearRevoked(name: string): Promise<PeerRecord> {
    const before = await this.require(name);
    if (before.revokedAt === null) throw new TunnelError('ERR_INVALID_ARGUMENT', `peer "${name}" is not revoked`);
    await this.ctx.sql.run('UPDATE peers SET revoked_at = NULL WHERE name = ?', name);
    await this.audit.record('peer.restore', name, { revokedAt: before.revokedAt });
    return this.require(name);
  }

  private async writePinnedEncap(name: string, encap: Encapsulation | null): Promise<PeerRecord> {
    const before = await this.require(name);
    if (before.pinnedEncap === encap) return before;
    // Pins live in peer_pins (ENCAP_PIN_MIGRATION): a row per pinned peer, none for automatic.
    await this.ctx.sql.run('DELETE FROM peer_pins WHERE peer_id = (SELECT id FROM peers WHERE name = ?)', name);
    if (encap !== null) await this.ctx.sql.run('INSERT INTO peer_pins (peer_id, encap) SELECT id, ? FROM peers WHERE name = ?', encap, name);
    await this.audit.record('peer.encap', name, { encap, previous: before.pinnedEncap });
    return this.require(name);
  }

  private async insertKey(peerId: number, peerName: string, key: SshPublicKey): Promise<void> {
    const owner = await this.findBySshFingerprint(key.fingerprint);
    if (owner) {
      const whose = owner.name === peerName ? 'this peer' : `peer "${owner.name}"`;
      throw new TunnelError('ERR_SSH_KEY_IN_USE', `SSH key ${key.fingerprint} is already registered to ${whose}`);
    }
    await this.ctx.sql.run('INSERT INTO ssh_keys (peer_id, algorithm, public_key, comment, fingerprint, added_at) VALUES (?, ?, ?, ?, ?, ?)',
      peerId, key.algorithm, key.publicKey, key.comment, key.fingerprint, this.ctx.clock());
  }

  private keysOf(peerId: number): Promise<SshKeyRecord[]> {
    return this.ctx.sql.all<SshKeyRecord>(SELECT_KEYS, peerId);
  }
}
