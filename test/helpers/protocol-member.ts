import type { ProtocolClient } from './protocol-client.js';
import { connectSsh } from './protocol-client.js';
import type { TestHub } from './with-hub.js';

/** A config message as tests read it. */
export interface Config {
  version: number;
  tunnels: Record<string, unknown>[];
  links: { prefix: string; encap: string; ends: { name: string; public: string | null; inner: string }[] }[];
  paths: { tunnel: string; encap: string; reason: string; reachable: boolean }[];
  advertised?: { prefix: string; state: string; code?: string }[];
}

/** A member speaking the protocol over SSH, acknowledging every config it gets. */
export class ProtocolMember {
  configs: Config[] = [];
  private constructor(readonly name: string, readonly client: ProtocolClient) {}

  /** Connects over SSH, says hello (with `advertise` when given) and takes the first config. */
  static async connect(hub: TestHub, name: string, key: string, endpoint: string, advertise?: string[]): Promise<ProtocolMember> {
    const client = await connectSsh(hub.hub.sshPort, name, key);
    const member = new ProtocolMember(name, client);
    client.send(JSON.stringify({ v: 1, type: 'hello', software: 'test/1', endpoint, ...(advertise ? { advertise } : {}) }));
    await client.next('welcome');
    await member.nextConfig();
    return member;
  }

  /** The next config pushed, acknowledged. */
  async nextConfig(timeoutMs = 10_000): Promise<Config> {
    const config = await this.client.next('config', timeoutMs) as unknown as Config;
    this.configs.push(config);
    this.client.send(JSON.stringify({ v: 1, type: 'ack', version: config.version }));
    return config;
  }

  /** Waits for a config that satisfies `check` (earlier ones are acknowledged and skipped). */
  async configWhere(check: (config: Config) => boolean, timeoutMs = 10_000): Promise<Config> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const config = await this.nextConfig(Math.max(1, deadline - Date.now()));
      if (check(config)) return config;
    }
  }

  /** The latest config received. */
  get latest(): Config {
    return this.configs[this.configs.length - 1]!;
  }

  tunnel(config: Config, name: string): Record<string, unknown> | undefined {
    return config.tunnels.find((tunnel) => tunnel.name === name);
  }
}
