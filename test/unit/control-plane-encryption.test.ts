import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { WireTunnelEsp, WireTunnelSpec } from '../../shared/protocol/index.js';
import { controlPlaneLab, fakeSessionClock, settle, type ControlPlaneLab, type LabMember } from '../helpers/control-plane-lab.js';

const ALICE = '203.0.113.10';
const BOB = '203.0.113.20';
const REKEY_MS = 60_000;
const GRACE_MS = 5_000;

type Config = { version: number; tunnels: WireTunnelSpec[]; links: { esp?: string; mtu: number }[]; paths: { tunnel: string; encap: string; reason: string }[] };
const configOf = (member: LabMember): Config => member.lastConfig() as unknown as Config;
const tunnelOf = (member: LabMember, name: string): WireTunnelSpec => {
  const spec = configOf(member).tunnels.find((candidate) => candidate.name === name);
  if (!spec) throw new Error(`${member.name} has no ${name}`);
  return spec;
};
const espOf = (spec: WireTunnelSpec | undefined): WireTunnelEsp => {
  if (!spec?.esp) throw new Error(`${spec?.name ?? 'tunnel'} is not encrypted`);
  return spec.esp;
};

/** What one end seals with must be among what the other opens, key and all: no packet is lost between them. */
function expectOpens(sender: WireTunnelEsp, receiver: WireTunnelEsp): void {
  expect(sender.outbound).not.toBeNull();
  expect(receiver.inbound).toContainEqual(sender.outbound);
}

/** Lets `ms` pass on the fake clock while `members` keep their sessions alive (the lab's liveness timeout is 3 s). */
async function pass(ms: number, ...members: LabMember[]): Promise<void> {
  for (let left = ms; left > 0; left -= 500) {
    for (const member of members) member.session.receive(JSON.stringify({ v: 1, type: 'keepalive' }));
    await vi.advanceTimersByTimeAsync(Math.min(500, left));
  }
  await settle();
}

function encryptedLab(options: { byDefault?: boolean; rekeyIntervalMs?: number } = {}): ControlPlaneLab {
  return controlPlaneLab({ encryption: { byDefault: options.byDefault ?? true, rekeyIntervalMs: options.rekeyIntervalMs ?? REKEY_MS, graceMs: GRACE_MS } });
}

describe('ControlPlane: encrypted links', () => {
  beforeEach(() => fakeSessionClock());
  afterEach(() => {
    vi.useRealTimers();
  });

  it('hands both ends of a member\'s hub link one pair of SAs: each seals what the other opens, GRE in raw ESP, no key at rest', async () => {
    const lab = encryptedLab();
    lab.registry.addPeer('alice');
    const alice = await lab.join('alice', ALICE);
    const hubEnd = lab.datapath.tunnels.get('tnl-alice');
    const memberEnd = tunnelOf(alice, 'tnl-hub');
    expect(hubEnd).toMatchObject({ encap: 'gre', key: expect.any(Number), mtu: 1438, remote: ALICE, esp: { aead: 'aes-gcm', udp: null } });
    expect(memberEnd).toMatchObject({ encap: 'gre', mtu: 1438, esp: { aead: 'aes-gcm', udp: null } });
    expectOpens(espOf(hubEnd), espOf(memberEnd));
    expectOpens(espOf(memberEnd), espOf(hubEnd));
    expect(espOf(hubEnd).outbound!.spi).not.toBe(espOf(memberEnd).outbound!.spi);
    expect(configOf(alice).links[0]).toMatchObject({ esp: 'raw', mtu: 1438 });
    expect(lab.registry.recordedPath(lab.registry.hubLinkId('alice'))).toEqual({ encap: 'gre', reason: 'public', esp: 'raw' });
    expect(lab.registry.saEpochs(lab.registry.hubLinkId('alice')).map((epoch) => epoch.reason)).toEqual(['hub-start']);

    // The keys are in what was pushed, never in what the registry keeps or status shows.
    const keys = [espOf(hubEnd).outbound!.key, espOf(memberEnd).outbound!.key];
    const atRest = JSON.stringify([lab.registry.storedConfig('alice'), lab.registry.storedHubEnd('alice'), [...lab.plane.liveState()]]);
    expect(atRest).toContain(`"spi":${espOf(hubEnd).outbound!.spi}`);
    for (const key of keys) {
      expect(JSON.stringify(alice.transport.sent)).toContain(key);
      expect(atRest).not.toContain(key);
    }
    await lab.plane.close();
  });

  it('behind a NAT: ESP in UDP, the hub learning the mapping from the member\'s authenticated hellos', async () => {
    const lab = encryptedLab();
    lab.registry.addPeer('alice');
    const alice = await lab.join('alice', ALICE, '192.168.1.5');
    const sessionKey = alice.transport.sent[0]!.sessionKey as string;
    expect(lab.datapath.tunnels.get('tnl-alice')).toMatchObject({ encap: 'gre', mtu: 1430, esp: { udp: {} }, auth: { key: sessionKey, role: 'hub' } });
    expect(tunnelOf(alice, 'tnl-hub')).toMatchObject({ encap: 'gre', local: '192.168.1.5', esp: { udp: {} }, auth: { key: sessionKey, role: 'member' } });
    expect(configOf(alice).paths[0]).toMatchObject({ encap: 'gre', reason: 'nat-detected' });
    await lab.plane.close();
  });

  it('refuses a member on plain ws:// whose link must be encrypted: coded, no hub end, no config, no epoch; allowed in the clear when its setting is off', async () => {
    const lab = encryptedLab();
    lab.registry.addPeer('alice');
    const plain = lab.connect('alice', ALICE, 'client-key', false);
    plain.hello(ALICE);
    await settle();
    expect(plain.transport.closedWith).toMatchObject({ code: 'ERR_INSECURE_CHANNEL' });
    expect(plain.transport.messages('error')[0]?.message).toMatch(/wss:\/\/.*ssh:\/\//);
    expect(plain.configs()).toEqual([]);
    expect(lab.datapath.tunnels.has('tnl-alice')).toBe(false);
    expect(lab.registry.saEpochs(lab.registry.hubLinkId('alice'))).toEqual([]);

    lab.registry.setEncrypt('alice', 'off');
    const cleartext = lab.connect('alice', ALICE, 'client-key', false);
    cleartext.hello(ALICE);
    await settle();
    expect(cleartext.transport.closedWith).toBeUndefined();
    expect(tunnelOf(cleartext, 'tnl-hub')).not.toHaveProperty('esp');
    expect(lab.datapath.tunnels.get('tnl-alice')).toMatchObject({ encap: 'gre', mtu: 1472 });
    await lab.plane.close();
  });

  it('a hub whose default is off encrypts only the members set on', async () => {
    const lab = encryptedLab({ byDefault: false });
    lab.registry.addPeer('alice');
    lab.registry.addPeer('bob');
    lab.registry.setEncrypt('bob', 'on');
    const alice = await lab.join('alice', ALICE);
    const bob = await lab.join('bob', BOB);
    expect(tunnelOf(alice, 'tnl-hub')).not.toHaveProperty('esp');
    expect(tunnelOf(bob, 'tnl-hub')).toHaveProperty('esp');
    await lab.plane.close();
  });

  it('a member\'s new session (a restart) gets a new epoch at once, and the hub\'s end follows', async () => {
    const lab = encryptedLab();
    lab.registry.addPeer('alice');
    const first = await lab.join('alice', ALICE);
    const before = espOf(lab.datapath.tunnels.get('tnl-alice'));
    const again = await lab.join('alice', ALICE);
    const after = espOf(lab.datapath.tunnels.get('tnl-alice'));
    expect(first.transport.closedWith).toMatchObject({ code: 'ERR_CLOSED' });
    expect(after.outbound!.spi).toBeGreaterThan(before.outbound!.spi);
    expect(after.inbound).toHaveLength(1);
    expectOpens(after, espOf(tunnelOf(again, 'tnl-hub')));
    expectOpens(espOf(tunnelOf(again, 'tnl-hub')), after);
    expect(lab.registry.saEpochs(lab.registry.hubLinkId('alice')).map((epoch) => epoch.reason)).toEqual(['hub-start', 'session']);
    await lab.plane.close();
  });

  it('rekeys every interval make-before-break: install (acked), switch (acked), then the old inbound goes after the grace', async () => {
    const lab = encryptedLab();
    lab.registry.addPeer('alice');
    const alice = await lab.join('alice', ALICE);
    alice.ack(1);
    await settle();
    const hub = () => espOf(lab.datapath.tunnels.get('tnl-alice'));
    const member = () => espOf(tunnelOf(alice, 'tnl-hub'));
    const old = hub().outbound!;

    await pass(REKEY_MS * 1.1, alice);
    // Installing: both open the new epoch, both still seal with the old one.
    expect(configOf(alice).version).toBe(2);
    expect(hub().outbound).toEqual(old);
    expect(hub().inbound).toHaveLength(2);
    expect(member().inbound).toHaveLength(2);
    expectOpens(hub(), member());
    expectOpens(member(), hub());
    // Nothing switches before the member acknowledged.
    await pass(GRACE_MS * 3, alice);
    expect(hub().outbound).toEqual(old);
    expect(configOf(alice).version).toBe(2);
    const memberOld = member().outbound;

    alice.ack(2);
    await settle();
    // Switching: both seal with the new epoch and still open the old one.
    expect(configOf(alice).version).toBe(3);
    expect(hub().outbound).not.toEqual(old);
    expect(hub().inbound).toHaveLength(2);
    expectOpens(hub(), member());
    expectOpens(member(), hub());
    // Whichever end has not applied the switch yet still seals with its old SA, and the other still opens that.
    expect(hub().inbound).toContainEqual(memberOld);
    expect(member().inbound).toContainEqual(old);

    alice.ack(3);
    await settle();
    expect(hub().inbound).toHaveLength(2);
    await pass(GRACE_MS, alice);
    expect(configOf(alice).version).toBe(4);
    expect(hub().inbound).toHaveLength(1);
    expect(member().inbound).toHaveLength(1);
    expectOpens(hub(), member());
    expectOpens(member(), hub());
    expect(lab.registry.saEpochs(lab.registry.hubLinkId('alice')).map((epoch) => epoch.reason)).toEqual(['hub-start', 'interval']);
    expect(lab.plane.linkKeys(lab.registry.hubLinkId('alice'))).toMatchObject({ phase: 'steady', epoch: lab.registry.saEpochs(lab.registry.hubLinkId('alice'))[1]!.epoch });
    await lab.plane.close();
  });

  it('a member that goes away during a rekey gets a fresh epoch when it returns; the hub end\'s sequence-limit event starts a rekey', async () => {
    const lab = encryptedLab({ rekeyIntervalMs: 3_600_000 });
    lab.registry.addPeer('alice');
    const alice = await lab.join('alice', ALICE);
    alice.ack(1);
    await pass(61_000, alice);
    lab.plane.hubEndRekeyDue('tnl-alice');
    await settle();
    expect(lab.registry.saEpochs(lab.registry.hubLinkId('alice')).map((epoch) => epoch.reason)).toEqual(['hub-start', 'rekey-due']);
    expect(lab.plane.linkKeys(lab.registry.hubLinkId('alice'))?.phase).toBe('installing');
    alice.session.close();
    await settle();
    const back = await lab.join('alice', ALICE);
    const hub = espOf(lab.datapath.tunnels.get('tnl-alice'));
    expect(hub.inbound).toHaveLength(1);
    expectOpens(hub, espOf(tunnelOf(back, 'tnl-hub')));
    expectOpens(espOf(tunnelOf(back, 'tnl-hub')), hub);
    expect(lab.registry.saEpochs(lab.registry.hubLinkId('alice')).map((epoch) => epoch.reason)).toEqual(['hub-start', 'rekey-due', 'session']);
    expect(lab.plane.linkKeys(lab.registry.hubLinkId('alice'))?.phase).toBe('steady');
    await lab.plane.close();
  });

  it('a member\'s `rekey` message rekeys its link, but not an epoch younger than a minute', async () => {
    const lab = encryptedLab({ rekeyIntervalMs: 3_600_000 });
    lab.registry.addPeer('alice');
    const alice = await lab.join('alice', ALICE);
    alice.ack(1);
    await settle();
    const request = (): void => alice.session.receive(JSON.stringify({ v: 1, type: 'rekey', tunnel: 'tnl-hub' }));
    request();
    await settle();
    expect(lab.registry.saEpochs(lab.registry.hubLinkId('alice'))).toHaveLength(1);
    await pass(61_000, alice);
    request();
    await settle();
    expect(lab.registry.saEpochs(lab.registry.hubLinkId('alice')).map((epoch) => epoch.reason)).toEqual(['hub-start', 'rekey-due']);
    expect(lab.plane.linkKeys(lab.registry.hubLinkId('alice'))?.phase).toBe('installing');
    // A tunnel the member has no link on is ignored.
    alice.session.receive(JSON.stringify({ v: 1, type: 'rekey', tunnel: 'tnl-nobody' }));
    await settle();
    expect(alice.transport.closedWith).toBeUndefined();
    await lab.plane.close();
  });

  it('`peer rekey` (a newer epoch in the registry) moves a member\'s link make-before-break once the change is reconciled', async () => {
    const lab = encryptedLab();
    lab.registry.addPeer('alice');
    const alice = await lab.join('alice', ALICE);
    alice.ack(1);
    await settle();
    lab.registry.rekeyPeer('alice');
    await lab.plane.reconcile();
    await settle();
    expect(lab.plane.linkKeys(lab.registry.hubLinkId('alice'))?.phase).toBe('installing');
    expect(espOf(lab.datapath.tunnels.get('tnl-alice')).inbound).toHaveLength(2);
    alice.ack(configOf(alice).version);
    await settle();
    alice.ack(configOf(alice).version);
    await settle();
    await pass(GRACE_MS, alice);
    const newest = lab.registry.saEpochs(lab.registry.hubLinkId('alice')).at(-1)!;
    expect(newest.reason).toBe('operator');
    expect(lab.plane.linkKeys(lab.registry.hubLinkId('alice'))).toMatchObject({ phase: 'steady', epoch: newest.epoch });
    await lab.plane.close();
  });

  it('a router (shell reports) encrypts only when set on, with static SAs that change with `peer rekey` only', async () => {
    const lab = encryptedLab();
    lab.registry.addPeer('gw');
    await lab.plane.reportFromShell('gw', ALICE);
    expect(lab.datapath.tunnels.get('tnl-gw')).not.toHaveProperty('esp');
    lab.registry.setEncrypt('gw', 'on');
    await lab.plane.reportFromShell('gw', ALICE);
    const first = espOf(lab.datapath.tunnels.get('tnl-gw'));
    await lab.plane.reportFromShell('gw', ALICE);
    expect(espOf(lab.datapath.tunnels.get('tnl-gw'))).toEqual(first);
    expect(lab.registry.saEpochs(lab.registry.hubLinkId('gw')).map((epoch) => epoch.reason)).toEqual(['first']);
    // No interval rekey for a router: it cannot be handed new SAs.
    await vi.advanceTimersByTimeAsync(REKEY_MS * 2);
    expect(lab.registry.saEpochs(lab.registry.hubLinkId('gw'))).toHaveLength(1);
    lab.registry.rekeyPeer('gw');
    await lab.plane.reconcile();
    const after = espOf(lab.datapath.tunnels.get('tnl-gw'));
    expect(after.outbound!.spi).toBeGreaterThan(first.outbound!.spi);
    expect(after.inbound).toHaveLength(1);
    await lab.plane.close();
  });

  it('a peer<->peer link is encrypted when both members encrypt, with matching SAs; in the clear when one is set off', async () => {
    const lab = encryptedLab();
    lab.registry.addPeer('alice');
    lab.registry.addPeer('bob');
    lab.registry.link('alice', 'bob');
    const alice = await lab.join('alice', ALICE);
    const bob = await lab.join('bob', BOB);
    const ab = espOf(tunnelOf(alice, 'tnl-bob'));
    const ba = espOf(tunnelOf(bob, 'tnl-alice'));
    expectOpens(ab, ba);
    expectOpens(ba, ab);
    expect(tunnelOf(alice, 'tnl-bob')).toMatchObject({ encap: 'gre', mtu: 1438, esp: { udp: null } });

    lab.registry.setEncrypt('bob', 'off');
    await lab.plane.reconcile();
    await settle();
    expect(tunnelOf(alice, 'tnl-bob')).not.toHaveProperty('esp');
    expect(tunnelOf(bob, 'tnl-alice')).not.toHaveProperty('esp');
    expect(tunnelOf(alice, 'tnl-hub')).toHaveProperty('esp');
    await lab.plane.close();
  });
});
