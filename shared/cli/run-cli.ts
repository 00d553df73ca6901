import { CommanderError, type Command } from 'commander';
import { TunnelError } from '../errors.js';

/**
 * Runs a commander program and turns every failure into one line on stderr and a non-zero exit:
 * 1 for a refused operation (a TunnelError), 2 for bad usage, 70 for an internal fault.
 * User errors never print a stack trace.
 */
export async function runCli(program: Command, argv: string[] = process.argv): Promise<void> {
  const name = program.name();
  // Subcommands registered before this call do not inherit these settings: apply them to all.
  const applyAll = (command: Command): void => {
    command.exitOverride();
    command.configureOutput({ writeErr: (text) => process.stderr.write(text) });
    for (const sub of command.commands) applyAll(sub);
  };
  applyAll(program);
  try {
    await program.parseAsync(argv);
  } catch (err) {
    process.exitCode = exitCodeFor(err, name);
  }
}

function exitCodeFor(err: unknown, name: string): number {
  if (err instanceof CommanderError) {
    // commander already printed its one-line message; help and version exit 0.
    return err.exitCode === 0 ? 0 : 2;
  }
  if (err instanceof TunnelError) {
    process.stderr.write(`${name}: ${err.code}: ${oneLine(err.message)}\n`);
    return 1;
  }
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`${name}: internal error: ${oneLine(message)}\n`);
  if (process.env.TUNNEL_DEBUG) console.error(err);
  return 70;
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}
