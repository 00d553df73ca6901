import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCliIn, startCli, startServe, type CliProcess } from './control-processes.js';
import { waitUntil } from './wait-until.js';

/**
 * `tunnel-hub serve` in a namespace, with a state folder of its own, and members that join it by
 * invite with `tunnel-client join`: the set-up most netns tests of the hub share.
 */
export interface NetnsHub {
  /** The temp folder holding the hub's state folder (`hub`) and each member's (its name). */
  readonly dir: string;
  readonly stateDir: string;
  /** Every member started through join(), for close(). */
  readonly members: CliProcess[];
  /** `tunnel-hub --state … ARGS` in the hub's namespace; its stdout. */
  cli(args: string[]): Promise<string>;
  /** `serve --listen ENDPOINT ARGS`, once it listens. */
  serve(args: string[], env?: Record<string, string>): Promise<CliProcess>;
  /** Stops the running serve (SIGTERM), keeping its state for the next serve(). */
  stop(): Promise<number | null>;
  /** The running serve's output, for a failed test's log. */
  output(): string;
  /**
   * `tunnel-client join ws://ENDPOINT:8443 --token INVITE --name NAME` from `namespace`, with
   * `extra` flags; waits for its hub tunnel to be up unless `waitUp` is false.
   */
  join(namespace: string, name: string, options?: { extra?: string[]; waitUp?: boolean }): Promise<CliProcess>;
  /** Kills the members, stops the hub and removes the folder. */
  close(): Promise<void>;
}

/** `tunnel-hub init --endpoint ENDPOINT --pool POOL` in a fresh temp folder, in `namespace`. */
export async function createNetnsHub(namespace: string, options: { endpoint: string; pool: string; tmpPrefix: string }): Promise<NetnsHub> {
  const dir = mkdtempSync(join(tmpdir(), options.tmpPrefix));
  const stateDir = join(dir, 'hub');
  const members: CliProcess[] = [];
  let hub: CliProcess | undefined;
  const cli = (args: string[]): Promise<string> => runCliIn(namespace, 'server', ['--state', stateDir, ...args]);
  try {
    await cli(['init', '--endpoint', options.endpoint, '--pool', options.pool]);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    dir,
    stateDir,
    members,
    cli,
    serve: async (args, env = {}) => {
      hub = await startServe(namespace, stateDir, ['--listen', options.endpoint, ...args], env);
      return hub;
    },
    stop: async () => (hub ? hub.stop() : null),
    output: () => hub?.output() ?? '',
    join: async (memberNamespace, name, { extra = [], waitUp = true } = {}) => {
      const invite = (await cli(['invite', 'create'])).trim();
      const member = startCli(memberNamespace, 'client',
        ['join', `ws://${options.endpoint}:8443`, '--token', invite, '--name', name, '--state', join(dir, name), ...extra]);
      members.push(member);
      if (waitUp) await waitUntil(() => /tnl-hub up/.test(member.output()), 20_000, () => `${name} join: ${member.output()}`);
      return member;
    },
    close: async () => {
      for (const member of members) await member.stop('SIGKILL');
      await hub?.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
