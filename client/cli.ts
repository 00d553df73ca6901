#!/usr/bin/env node
import { Command } from 'commander';
import { runCli } from '../shared/cli/run-cli.js';
import { PACKAGE_VERSION } from '../shared/package-version.js';
import { registerJoinCommand } from './commands/join.js';
import { registerRunCommand } from './commands/run.js';
import { registerSetCommand } from './commands/set.js';
import { registerStatusCommand } from './commands/status.js';
import { registerUpCommand } from './commands/up.js';

// Argument parsing only: each command lives in client/commands/ and delegates.
const program = new Command('tunnel-client')
  .description('a member\'s end: join a hub once, then keep the tunnels up across address changes; or run a static tunnel with no hub')
  .version(PACKAGE_VERSION, '-V, --version', 'print the version and exit');
registerJoinCommand(program);
registerRunCommand(program);
registerUpCommand(program);
registerStatusCommand(program);
registerSetCommand(program);
await runCli(program);
