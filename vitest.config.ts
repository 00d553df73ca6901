import { defineConfig } from 'vitest/config';

// Four tiers, as separate projects: unit (no I/O), integration (loopback, temp state), netns
// (root; real namespaces), and package (npm pack and a global install that compiles SQLite and
// the addon: minutes). Netns files must run one at a time because they share the two cores, but
// vitest 3 reads file parallelism for a whole run only, not per project: the scripts that run
// the netns tier pass --no-file-parallelism.
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 60_000 } },
      { test: { name: 'integration', include: ['test/integration/**/*.test.ts'], testTimeout: 120_000, hookTimeout: 60_000 } },
      { test: { name: 'netns', include: ['test/netns/**/*.test.ts'], testTimeout: 300_000, hookTimeout: 120_000 } },
      { test: { name: 'package', include: ['test/package/**/*.test.ts'], testTimeout: 1_800_000 } },
    ],
  },
});
