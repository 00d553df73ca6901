import { INITIAL_STEP } from './001-initial.js';
import { SPEC_VERSION_STEP } from './002-spec-versions.js';
import { LINK_PATH_STEP } from './003-link-paths.js';
import { PEER_REVOCATION_STEP } from './004-peer-revocation.js';
import { ROUTER_ACCESS_STEP } from './005-router-access.js';
import { PEER_ROUTING_STEP } from './006-peer-routing.js';
import { CLUSTER_STEP } from './007-cluster.js';
import { HUB_LINK_STEP } from './008-hub-links.js';
import { ENCAP_PIN_STEP } from './009-encap-pins.js';
import { HUB_LINK_ENCAP_STEP } from './010-hub-link-encap.js';
import { SHORTCUT_STEP } from './011-shortcuts.js';
import { LINK_ENCRYPTION_STEP } from './012-link-encryption.js';
import type { SchemaStep } from './schema-step.js';

/**
 * The registry schema for both backends, one step per file: step i (from 1) is what schema
 * version i adds. Append a step (a new `NNN-name.ts`), never edit, drop or reorder one: a hub
 * upgraded in place replays only the steps its registry lacks (SQLite counts them in
 * `PRAGMA user_version`, PostgreSQL in `schema_migrations`).
 */
export const SCHEMA_STEPS: readonly SchemaStep[] = [
  INITIAL_STEP,
  SPEC_VERSION_STEP,
  LINK_PATH_STEP,
  PEER_REVOCATION_STEP,
  ROUTER_ACCESS_STEP,
  PEER_ROUTING_STEP,
  CLUSTER_STEP,
  HUB_LINK_STEP,
  ENCAP_PIN_STEP,
  HUB_LINK_ENCAP_STEP,
  SHORTCUT_STEP,
  LINK_ENCRYPTION_STEP,
];
