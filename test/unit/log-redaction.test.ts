import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../shared/log.js';

/** A logger at info whose JSON lines land in `lines`. */
function capture(): { log: ReturnType<typeof createLogger>; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: createLogger('test', { level: 'info', format: 'json', destination }), lines };
}

describe('createLogger: secrets stay out of the log', () => {
  it('replaces secret fields at the top level and one level down, and keeps the rest', () => {
    const { log, lines } = capture();
    log.info({ peer: 'm1', token: 'eyJ.secret.sig', request: { authorization: 'Bearer abc', path: '/x' }, binding: { sessionKey: 'k', port: 4 } }, 'hello');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      msg: 'hello', peer: 'm1', token: '[redacted]',
      request: { authorization: '[redacted]', path: '/x' }, binding: { sessionKey: '[redacted]', port: 4 },
    });
    expect(JSON.stringify(lines)).not.toMatch(/eyJ\.secret|Bearer abc/);
  });

  it('redacts every name it knows', () => {
    const { log, lines } = capture();
    const secrets = { token: 1, key: 2, privateKey: 3, secret: 4, sessionKey: 5, authorization: 6, password: 7 };
    log.info({ ...secrets, nested: { ...secrets } }, 'all');
    const line = lines[0]!;
    for (const name of Object.keys(secrets)) {
      expect(line[name]).toBe('[redacted]');
      expect((line.nested as Record<string, unknown>)[name]).toBe('[redacted]');
    }
  });

  it('an error carrying a secret is logged with its message and stack, the secret replaced', () => {
    const { log, lines } = capture();
    const err = Object.assign(new Error('refused'), { code: 'ERR_X', password: 'hunter2' });
    log.warn({ err }, 'failed');
    const logged = lines[0]!.err as Record<string, unknown>;
    expect(logged).toMatchObject({ type: 'Error', message: 'refused', code: 'ERR_X', password: '[redacted]' });
    expect(logged.stack).toMatch(/refused/);
    expect(JSON.stringify(lines)).not.toContain('hunter2');
  });

  it('leaves the caller\'s object as it was', () => {
    const { log } = capture();
    const fields = { token: 't', inner: { key: 'k' } };
    log.info(fields, 'kept');
    expect(fields).toEqual({ token: 't', inner: { key: 'k' } });
  });
});
