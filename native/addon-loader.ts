import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NativeAddon } from './addon-binding.js';
import { BatchViews } from './batch-views.js';
import { NativeError } from './native-error.js';

const ADDON_FILE = join('native', 'build', 'Release', 'tunnel_native.node');

let loaded: { addon: NativeAddon; views: BatchViews } | undefined;

/**
 * The one place that loads build/Release/tunnel_native.node. Loads it on first use, so argument errors and batch allocation work without it. The
 * package root is found by walking up to package.json, which works from native/ (sources run by
 * vitest) and from dist/native/ (the compiled build) alike.
 */
export function loadAddon(): { addon: NativeAddon; views: BatchViews } {
  if (loaded !== undefined) return loaded;
  const path = join(packageRoot(), ADDON_FILE);
  if (!existsSync(path)) {
    throw new NativeError('ERR_SYSTEM', `native addon not built: run npm install (missing ${path})`);
  }
  let addon: NativeAddon;
  try {
    addon = createRequire(import.meta.url)(path) as NativeAddon;
  } catch (err) {
    throw new NativeError('ERR_SYSTEM', `native addon failed to load (${(err as Error).message}): run npm install`, { cause: err });
  }
  loaded = { addon, views: new BatchViews(addon.bindBatch.bind(addon)) };
  return loaded;
}

function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new NativeError('ERR_SYSTEM', 'native addon not built: run npm install (package root not found)');
    dir = parent;
  }
}
