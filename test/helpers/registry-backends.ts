import { afterAll, afterEach, beforeAll } from 'vitest';
import { Registry } from '../../server/registry/registry.js';
import { SCHEMA_STEPS } from '../../server/registry/schema/schema-steps.js';
import { postgresUnavailableReason, startPostgres, type PostgresServer } from './postgres-server.js';
import { fakeClock, type FakeClock } from './registry-fixture.js';

/** One registry backend the contract suite runs against. */
export interface ContractBackend {
  readonly name: 'sqlite' | 'postgresql';
  /** Why it cannot run here, or null. */
  readonly unavailable: string | null;
  /** Schema steps a new registry ends up with. */
  readonly steps: number;
  /** A new, empty (migrated) registry of its own, closed after the test. */
  empty(clock?: FakeClock): Promise<Registry>;
  /** Like {@link empty}, with the hub endpoint set and `pools` added. */
  initialised(options?: { pools?: string[]; clock?: FakeClock }): Promise<Registry>;
}

/**
 * Both backends, ready for `describe.each`: SQLite in memory, and PostgreSQL on a private server
 * started once for the file (each test gets its own schema). Call inside a test file's top level.
 */
export function contractBackends(): ContractBackend[] {
  let server: PostgresServer | undefined;
  let schemas = 0;
  const opened: Registry[] = [];
  const pgReason = postgresUnavailableReason();
  if (pgReason) console.warn(`skipping the PostgreSQL registry contract: ${pgReason}`);
  beforeAll(async () => {
    if (pgReason === null) server = await startPostgres();
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((registry) => registry.close()));
  });
  afterAll(() => {
    server?.close();
  });
  const track = (registry: Registry): Registry => {
    opened.push(registry);
    return registry;
  };
  const initialise = async (registry: Registry, pools: string[] = []): Promise<Registry> => {
    await registry.settings.setEndpoint('198.51.100.1');
    for (const pool of pools) await registry.pools.add(pool);
    return registry;
  };
  const sqlite: ContractBackend = {
    name: 'sqlite',
    unavailable: null,
    steps: SCHEMA_STEPS.length,
    empty: async (clock = fakeClock()) => track(await Registry.open(':memory:', { clock })),
    initialised: async ({ pools, clock } = {}) => initialise(await sqlite.empty(clock), pools),
  };
  const postgres: ContractBackend = {
    name: 'postgresql',
    unavailable: pgReason,
    steps: SCHEMA_STEPS.length,
    empty: async (clock = fakeClock()) => {
      if (!server) throw new Error('the PostgreSQL server did not start');
      const url = await server.createSchema(`contract_${++schemas}`);
      return track(await Registry.open(url, { clock }));
    },
    initialised: async ({ pools, clock } = {}) => initialise(await postgres.empty(clock), pools),
  };
  return [sqlite, postgres];
}
