import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/netns.js';

// native/ is the ground floor: the addon's TypeScript imports nothing from the rest of the project.

describe('native/ stands alone', () => {
  it('has no import that leaves the folder', () => {
    const dir = join(repoRoot(), 'native');
    const leaving = readdirSync(dir)
      .filter((file) => file.endsWith('.ts'))
      .flatMap((file) => [...readFileSync(join(dir, file), 'utf8').matchAll(/from\s+'(\.\.\/[^']*)'/g)].map((match) => `${file}: ${match[1]}`));
    expect(leaving).toEqual([]);
  });
});
