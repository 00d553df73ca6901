import { execFile } from 'node:child_process';
import ssh2 from 'ssh2';

/** What one exec over SSH printed and its exit status. */
export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number | null;
}

/** Runs `command` over SSH with the ssh2 client (public-key auth) and collects its output. */
export function sshExec(port: number, username: string, privateKey: string, command: string, host = '127.0.0.1'): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    client.on('error', reject);
    client.on('ready', () => {
      execOnConnection(client, command).then((result) => {
        client.end();
        resolve(result);
      }, (err: unknown) => {
        client.end();
        reject(err);
      });
    });
    client.connect({ host, port, username, privateKey, readyTimeout: 10_000 });
  });
}

/** Runs `command` on an open ssh2 connection (which stays open) and collects its output. */
export function execOnConnection(client: ssh2.Client, command: string): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    client.exec(command, (err, stream) => {
      if (err) {
        reject(err);
        return;
      }
      let stdout = '';
      let stderr = '';
      let code: number | null = null;
      stream.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      stream.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      stream.on('exit', (exit: number) => (code = exit));
      stream.on('close', () => resolve({ stdout, stderr, code }));
    });
  });
}

/**
 * The same with the stock OpenSSH client, as a router with only a shell would run it; `prefix`
 * runs it elsewhere (e.g. `ip netns exec NS`). Host keys are neither checked nor stored.
 */
export function opensshExec(port: number, username: string, keyFile: string, command: string, host = '127.0.0.1',
  prefix: string[] = []): Promise<ExecResult> {
  const args = [
    'ssh', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes',
    '-o', 'LogLevel=ERROR', '-o', 'ConnectTimeout=10', '-p', String(port), '-i', keyFile, `${username}@${host}`, command,
  ];
  const [file, ...rest] = [...prefix, ...args];
  return new Promise((resolve) => {
    execFile(file as string, rest, { timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({ stdout, stderr, code });
    });
  });
}
