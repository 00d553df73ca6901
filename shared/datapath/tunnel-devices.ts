import { TunnelError } from '../errors.js';
import type { KernelChange } from '../system/kernel-change.js';
import type { DatapathIo, TunEndpoint } from './datapath-io.js';
import type { DeviceOwner } from './device-owner.js';
import type { EncapsulationPlan } from './encapsulation-plan.js';
import type { TunnelSpec } from './tunnel-spec.js';

/**
 * `TunnelDevices`: the engine's TUN side. Opens each tunnel's device (exclusively, with an owner)
 * and configures it in the kernel's batches, and finds and deletes the owner's devices; it alone
 * knows which names another owner holds.
 */
export class TunnelDevices {
  /** Names an exclusive open found held by another owner's device (looked up once, not on every retry). */
  readonly #foreign = new Set<string>();

  constructor(private readonly io: DatapathIo, private readonly owner: DeviceOwner | undefined, private readonly fastPath: boolean | undefined) {}

  /**
   * Opens the tunnel's TUN (a TAP for gretap) and configures it: the owner's mark, MAC, MTU,
   * address, up, in one batch with the other tunnels' changes of this turn. On failure the device
   * is closed again and the coded refusal thrown.
   */
  async open(spec: TunnelSpec, plan: EncapsulationPlan): Promise<TunEndpoint> {
    const tun = await this.#openTun(spec);
    const link = spec.name;
    const changes: KernelChange[] = [];
    const owner = this.owner;
    if (owner !== undefined) changes.push({ kind: 'mark-link', link, group: owner.group, alias: owner.alias });
    if (spec.mac !== null) changes.push({ kind: 'set-mac', link, mac: spec.mac });
    changes.push({ kind: 'set-mtu', link, mtu: plan.mtu });
    // A TAP is a broadcast link: its /30 needs no peer (ARP finds the other end). A gretap
    // without addresses is an L2 port for a bridge and gets none.
    if (spec.address !== null) {
      const cidr = `${spec.address}/${spec.prefixLength}`;
      changes.push(spec.mac !== null || spec.peerAddress === null ? { kind: 'add-address', link, cidr } : { kind: 'add-address', link, cidr, peer: spec.peerAddress });
    }
    changes.push({ kind: 'set-up', link, up: true });
    try {
      await this.#configureLink(link, changes);
    } catch (err) {
      await this.io.closeTuns([tun]);
      throw err;
    }
    return tun;
  }

  /** Sets a device's MTU; throws the kernel's refusal. */
  async setMtu(link: string, mtu: number): Promise<void> {
    await this.#configureLink(link, [{ kind: 'set-mtu', link, mtu }]);
  }

  /** Sets a device's MTU back after a refused update, without waiting or failing. */
  restoreMtu(link: string, mtu: number): void {
    void this.io.configure([{ kind: 'set-mtu', link, mtu }]).catch(() => undefined);
  }

  /**
   * Deletes the owner's devices that `inUse` does not claim, in one request when `idle` (nothing
   * runs here). Resolves with their names; without an owner, with none.
   */
  async removeStale(inUse: (name: string) => boolean, idle: () => boolean): Promise<string[]> {
    const owner = this.owner;
    if (owner === undefined) return [];
    const stale = (await this.io.listLinks(''))
      .filter((link) => link.alias === owner.alias && !inUse(link.name))
      .map((link) => link.name);
    if (stale.length === 0) return [];
    if (idle() && await this.deleteOwnGroup()) return stale;
    const outcomes = await this.io.configure(stale.map((link): KernelChange => ({ kind: 'delete-link', link })));
    return stale.filter((_, i) => outcomes[i]?.ok === true || outcomes[i]?.error.code === 'ERR_DEVICE_NOT_FOUND');
  }

  /**
   * Deletes the owner's link group in one request, after checking that every device in it is the
   * owner's (another process may have picked the same group number); false when it did not or
   * there is no owner.
   */
  async deleteOwnGroup(): Promise<boolean> {
    const owner = this.owner;
    if (owner === undefined) return false;
    try {
      const links = await this.io.listLinks('');
      if (links.some((link) => link.group === owner.group && link.alias !== owner.alias)) return false;
      if (!links.some((link) => link.group === owner.group)) return true;
      const [outcome] = await this.io.configure([{ kind: 'delete-link-group', group: owner.group }]);
      return outcome?.ok === true || outcome?.error.code === 'ERR_DEVICE_NOT_FOUND';
    } catch {
      return false;
    }
  }

  /**
   * Opens the device; with an owner, exclusively: a device of that name this owner left behind
   * (a killed process) is deleted and the open tried again, one anyone else holds is refused with
   * ERR_ALREADY_EXISTS and left alone.
   */
  async #openTun(spec: TunnelSpec): Promise<TunEndpoint> {
    const owner = this.owner;
    const options = { tap: spec.mac !== null, forwarded: this.fastPath !== false && this.io.createFastRoute !== undefined, exclusive: owner !== undefined };
    try {
      const tun = await this.io.openTun(spec.name, options);
      this.#foreign.delete(spec.name);
      return tun;
    } catch (err) {
      if (owner === undefined || !(err instanceof TunnelError) || err.code !== 'ERR_ALREADY_EXISTS') throw err;
      const foreign = (): TunnelError => new TunnelError('ERR_ALREADY_EXISTS',
        `an interface named ${spec.name} exists and is not this process's: it is left alone (remove or rename it to let this tunnel up)`, { cause: err });
      if (this.#foreign.has(spec.name)) throw foreign();
      const holder = (await this.io.listLinks(spec.name)).find((link) => link.name === spec.name);
      if (holder !== undefined && holder.alias !== owner.alias) {
        this.#foreign.add(spec.name);
        throw foreign();
      }
      if (holder !== undefined) await this.io.configure([{ kind: 'delete-link', link: spec.name }]);
      return this.io.openTun(spec.name, options);
    }
  }

  /** Makes `changes` to one link; throws the first refusal. */
  async #configureLink(link: string, changes: KernelChange[]): Promise<void> {
    const outcomes = await this.io.configure(changes);
    const refused = outcomes.find((outcome) => !outcome.ok);
    if (refused !== undefined && !refused.ok) throw refused.error;
    if (outcomes.length !== changes.length) throw new TunnelError('ERR_INTERNAL', `configuring ${link}: the kernel configuration gave ${outcomes.length} outcomes for ${changes.length} changes`);
  }
}
