import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TunnelError } from './errors.js';

/** The name in this project's package.json: the search stops at this package's own file. */
const PACKAGE_NAME = 'tunnel-coordinator';

/**
 * This package's version, read once from its package.json when first imported. The file is found
 * by walking up from this module, so it works from shared/ (sources run by vitest), from
 * dist/shared/ (the build) and from an installed package (npm always ships package.json).
 */
export const PACKAGE_VERSION: string = readPackageVersion(dirname(fileURLToPath(import.meta.url)));

function readPackageVersion(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const manifest = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
      if (manifest.name === PACKAGE_NAME && typeof manifest.version === 'string') return manifest.version;
    }
    if (dirname(dir) === dir) throw new TunnelError('ERR_SYSTEM', `no package.json of ${PACKAGE_NAME} above ${start}: the installation is incomplete`);
  }
}
