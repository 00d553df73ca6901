import { execFileSync } from 'node:child_process';

/** Why the netns tier cannot run here, or null when it can. Tests print this loudly and skip. */
export function netnsUnavailableReason(): string | null {
  if (process.getuid?.() !== 0) return 'netns tests need root (run as root or in CI)';
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    return 'netns tests need iproute2 (`npm run setup:test`)';
  }
  return null;
}
