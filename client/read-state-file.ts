import { readFileSync } from 'node:fs';
import { TunnelError } from '../shared/errors.js';

/** A state file's text, or undefined when it does not exist yet; any other failure is ERR_STATE. */
export function readStateFileIfPresent(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new TunnelError('ERR_STATE', `cannot read ${path}: ${(err as Error).message}`);
  }
}
