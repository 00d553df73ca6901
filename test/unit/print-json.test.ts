import { afterEach, describe, expect, it, vi } from 'vitest';
import { INDENTED_JSON_MAX_CHARS, printJson } from '../../server/commands/write-output.js';

/** What printJson writes on stdout for `value`. */
function printed(value: unknown): string {
  let text = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    text += String(chunk);
    return true;
  });
  printJson(value);
  vi.restoreAllMocks();
  return text;
}

describe('printJson: one JSON document on stdout', () => {
  afterEach(() => vi.restoreAllMocks());

  it('indents a document a person may read', () => {
    const value = { peers: [{ name: 'alice', connected: true }] };
    expect(printed(value)).toBe(`${JSON.stringify(value, null, 2)}\n`);
  });

  it('prints a document larger than the bound on one line, with the same values', () => {
    const value = { peers: Array.from({ length: 20_000 }, (_, i) => ({ name: `m${i}`, inner: `10.64.${i >> 8}.${i & 255}`, routes: [] as string[], spoofed: null })) };
    expect(JSON.stringify(value).length).toBeGreaterThan(INDENTED_JSON_MAX_CHARS);
    const text = printed(value);
    expect(text.endsWith('\n')).toBe(true);
    expect(text.slice(0, -1)).not.toContain('\n');
    expect(JSON.parse(text)).toEqual(value);
  });
});
