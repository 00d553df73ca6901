/** Every row of every registry table, for comparing the registry before and after a refusal. */
export interface RegistrySnapshot {
  readonly schemaVersion: number;
  readonly tables: Record<string, unknown[]>;
}
