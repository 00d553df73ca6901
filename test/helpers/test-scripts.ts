import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './netns.js';

/**
 * The built form of test/scripts/NAME.ts: the programs tests run as child processes (in
 * namespaces, with runNodeIn / startNodeIn, or beside the test). They are typechecked and compiled
 * by `npm run build` into dist/test/scripts/, and take their parameters as arguments.
 */
export function testScript(name: string): string {
  const file = join(repoRoot(), 'dist', 'test', 'scripts', `${name}.js`);
  if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\` (it compiles test/scripts/${name}.ts)`);
  return file;
}
