import { renameSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { CLIENT_STATE_FOLDER, clientStateFile } from '../shared/cli/state-folder-layout.js';
import { TunnelError } from '../shared/errors.js';
import { configSchema } from '../shared/protocol/index.js';
import { readStateFileIfPresent } from './read-state-file.js';

const clientStateSchema = z.strictObject({
  v: z.literal(1),
  /** The peer name the hub knows this member by. */
  peer: z.string().min(1).max(64),
  hub: z.strictObject({
    /** ws://, wss:// or ssh://NAME@HOST:PORT */
    url: z.string().min(1),
    /** The hub id (audience of client tokens), learnt from the hub on join. */
    hubId: z.string().optional(),
    /** The SSH host key fingerprint pinned on first connect. */
    hostKey: z.string().optional(),
    /** A CA certificate file to trust for wss://. */
    ca: z.string().optional(),
  }),
  /** The last config applied, brought up at once by the next `run`. */
  config: configSchema.optional(),
});

/** What the client state folder records about its hub. */
export type ClientState = z.infer<typeof clientStateSchema>;

/** Reads `client.json`; undefined when the member never joined; ERR_INVALID_CONFIG when it is damaged. */
export function readClientState(stateDir: string): ClientState | undefined {
  const path = clientStateFile(stateDir, 'clientState');
  const text = readStateFileIfPresent(path);
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new TunnelError('ERR_INVALID_CONFIG', `${path} is not valid JSON; join again or restore it`);
  }
  const parsed = clientStateSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TunnelError('ERR_INVALID_CONFIG', `${path}: ${issue?.path.join('.') ?? ''} ${issue?.message ?? 'invalid'}`.trim());
  }
  return parsed.data;
}

/** Writes `client.json` (0600) atomically: written aside, then renamed over the old one. */
export function writeClientState(stateDir: string, state: ClientState): void {
  const path = clientStateFile(stateDir, 'clientState');
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(state, null, 2)}\n`, { mode: CLIENT_STATE_FOLDER.clientState.mode });
  renameSync(temporary, path);
}
