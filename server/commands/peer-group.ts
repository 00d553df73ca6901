import type { Command } from 'commander';

/** Adds `tunnel-hub peer`, the group every peer command goes under, and returns it. */
export function addPeerGroup(program: Command): Command {
  return program.command('peer').description('peers: members that keep a tunnel to the hub');
}
