import { describe, expect, it } from 'vitest';
import { requestedCommand } from '../../server/commands/requested-command.js';

const KNOWN = ['init', 'peer', 'status', 'serve'];

describe('requestedCommand: the one command module the hub CLI loads', () => {
  it('finds the command after the program options it knows', () => {
    expect(requestedCommand(['status', '--json'], KNOWN)).toEqual(['status', '--json']);
    expect(requestedCommand(['--state', '/tmp/x', 'peer', 'list', '--state', 'up'], KNOWN)).toEqual(['peer', 'list', '--state', 'up']);
    expect(requestedCommand(['--state=/tmp/x', 'serve'], KNOWN)).toEqual(['serve']);
    // A folder named like a command is the folder, not the command.
    expect(requestedCommand(['--state', 'status', 'init'], KNOWN)).toEqual(['init']);
  });

  it('names none where every command must be loaded: help, the version, an unknown word, nothing', () => {
    for (const args of [[], ['--help'], ['-h'], ['-V'], ['help', 'status'], ['stauts'], ['--state', '/tmp/x'], ['--unknown', 'status'], ['--', 'status']]) {
      expect({ args, command: requestedCommand(args, KNOWN) }).toEqual({ args, command: undefined });
    }
  });
});
