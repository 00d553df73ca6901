import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/netns.js';

const npmMissing = spawnSync('npm', ['--version']).error ? 'npm is missing' : null;
if (npmMissing) console.warn(`SKIPPING the npm warning check: ${npmMissing}`);

describe.skipIf(npmMissing !== null)('npm in this checkout', () => {
  it('warns about nothing, such as a config key it does not know', () => {
    // A fresh environment, as a user's shell: no npm_config_* from an `npm test` running us.
    const env = { HOME: process.env.HOME ?? '/root', PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8' };
    const result = spawnSync('npm', ['pkg', 'get', 'name'], { cwd: repoRoot(), env, encoding: 'utf8', timeout: 60_000 });
    expect({ status: result.status, stdout: result.stdout.trim(), stderr: result.stderr.trim() }).toEqual({ status: 0, stdout: '"tunnel-coordinator"', stderr: '' });
  });
});
