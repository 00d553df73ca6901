import { describe, expect, it } from 'vitest';
import { DatapathEngine } from '../../shared/datapath/datapath-engine.js';
import { deviceOwner } from '../../shared/datapath/device-owner.js';
import type { TunnelSpecInput } from '../../shared/datapath/tunnel-spec.js';
import { FakeDatapathIo } from '../helpers/fake-datapath-io.js';

const OWNER = deviceOwner('tunnel-hub:SHA256:test-hub');

function spec(name: string, i: number): TunnelSpecInput {
  return { name, encap: 'gre', local: '192.0.2.1', remote: '198.51.100.1', key: i + 1, address: `10.9.${i}.1/30`, peerAddress: `10.9.${i}.2`, keepaliveInterval: 0 };
}

function setup() {
  const io = new FakeDatapathIo();
  return { io, engine: new DatapathEngine(io, { owner: OWNER }) };
}

describe('an engine with a device owner', () => {
  it('derives a link group other than 0 from the alias, the same each time, and refuses an empty or long alias', () => {
    expect(OWNER.group).toBeGreaterThan(0);
    expect(deviceOwner('tunnel-hub:SHA256:test-hub')).toEqual(OWNER);
    expect(deviceOwner('tunnel-hub:other').group).not.toBe(OWNER.group);
    expect(() => deviceOwner('')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    expect(() => deviceOwner('x'.repeat(256))).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
  });

  it('opens each device exclusively and marks it with its group and alias', async () => {
    const { io, engine } = setup();
    await engine.addTunnel(spec('tnl-m0', 0));
    expect(io.calls).toContain('openTun tnl-m0 exclusive');
    expect(io.marks.get('tnl-m0')).toEqual({ group: OWNER.group, alias: OWNER.alias });
  });

  it('refuses a name another process\'s interface holds with ERR_ALREADY_EXISTS, leaves that interface alone, and serves the others', async () => {
    const { io, engine } = setup();
    io.otherLinks.set('tnl-m1', { group: 0, alias: null });
    const results = await Promise.allSettled([0, 1, 2].map((i) => engine.addTunnel(spec(`tnl-m${i}`, i))));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const refused = (results[1] as PromiseRejectedResult).reason as Error & { code: string };
    expect(refused.code).toBe('ERR_ALREADY_EXISTS');
    expect(refused.message).toMatch(/tnl-m1 .*not this process's/);
    expect(refused.message).not.toContain('\n');
    expect(io.otherLinks.has('tnl-m1')).toBe(true);
    expect(io.calls.filter((call) => call.startsWith('delete'))).toEqual([]);
    expect(engine.status().map((s) => s.name)).toEqual(['tnl-m0', 'tnl-m2']);
    // Asked again, the clash is refused the same way (and still nothing is deleted).
    await expect(engine.addTunnel(spec('tnl-m1', 1))).rejects.toMatchObject({ code: 'ERR_ALREADY_EXISTS' });
    expect(io.otherLinks.has('tnl-m1')).toBe(true);
  });

  it('takes back a device of its own a killed run left behind: deleted, then opened anew', async () => {
    const { io, engine } = setup();
    io.otherLinks.set('tnl-m3', { group: OWNER.group, alias: OWNER.alias });
    await engine.addTunnel(spec('tnl-m3', 3));
    expect(io.calls).toContain('delete tnl-m3');
    expect(engine.status().map((s) => s.name)).toEqual(['tnl-m3']);
  });

  it('removeStaleDevices deletes only its own devices that do not run, never anyone else\'s', async () => {
    const { io, engine } = setup();
    await engine.addTunnel(spec('tnl-m0', 0));
    io.otherLinks.set('tnl-m5', { group: OWNER.group, alias: OWNER.alias });
    io.otherLinks.set('tnl-m6', { group: OWNER.group, alias: OWNER.alias });
    io.otherLinks.set('tnl-x', { group: 0, alias: null });
    io.otherLinks.set('tnl-y', { group: 7, alias: 'tunnel-hub:someone-else' });
    expect((await engine.removeStaleDevices()).sort()).toEqual(['tnl-m5', 'tnl-m6']);
    expect([...io.otherLinks.keys()].sort()).toEqual(['tnl-x', 'tnl-y']);
    expect(engine.status().map((s) => s.name)).toEqual(['tnl-m0']);
  });

  it('with nothing running, removes its stale devices as one group; without an owner, removes nothing', async () => {
    const { io, engine } = setup();
    for (let i = 0; i < 50; i++) io.otherLinks.set(`tnl-m${i}`, { group: OWNER.group, alias: OWNER.alias });
    io.otherLinks.set('eth9', { group: 0, alias: null });
    expect(await engine.removeStaleDevices()).toHaveLength(50);
    expect(io.calls.filter((call) => call.startsWith('delete'))).toEqual([`delete group ${OWNER.group}`]);
    expect([...io.otherLinks.keys()]).toEqual(['eth9']);
    const plain = new DatapathEngine(new FakeDatapathIo());
    expect(await plain.removeStaleDevices()).toEqual([]);
  });

  it('close deletes every device in one request before closing the descriptors in one batch', async () => {
    const { io, engine } = setup();
    await Promise.all(Array.from({ length: 20 }, (_, i) => engine.addTunnel(spec(`tnl-m${i}`, i))));
    const closesBefore = io.closeBatches;
    await engine.close();
    const deletes = io.calls.filter((call) => call.startsWith('delete'));
    expect(deletes).toEqual([`delete group ${OWNER.group}`]);
    expect(io.calls.indexOf(deletes[0]!)).toBeLessThan(io.calls.indexOf('close tnl-m0'));
    expect(io.closeBatches - closesBefore).toBe(1);
    expect(engine.status()).toEqual([]);
    await expect(engine.addTunnel(spec('tnl-late', 30))).rejects.toMatchObject({ code: 'ERR_CLOSED' });
  });
});
