import { probeOuterAddress } from './outer-address-probe.js';

/** How the watcher finds the outer address; tests substitute a scripted one. */
export type OuterAddressProbe = (host: string, port: number) => Promise<string | null>;

/**
 * Watches the outer address this host uses toward the hub by polling the routing decision
 * (cheap: one connected UDP socket, no packet) every `intervalMs`, and calls `onChange` when it
 * differs from the last one seen, so a change is reported well within a second.
 */
export class EndpointWatcher {
  private timer: NodeJS.Timeout | undefined;
  private last: string | null | undefined;
  private probing = false;

  constructor(
    private hubHost: string,
    private hubPort: number,
    private readonly onChange: (address: string | null, previous: string | null | undefined) => void,
    private readonly intervalMs = 500,
    private readonly probe: OuterAddressProbe = probeOuterAddress,
  ) {}

  /** The address seen by the latest probe (undefined before the first). */
  get current(): string | null | undefined {
    return this.last;
  }

  /** Probes once now and then every interval. */
  async start(): Promise<string | null> {
    const first = await this.probe(this.hubHost, this.hubPort);
    this.last = first;
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
    return first;
  }

  /** Watches the way to another hub from now on (the member moved); the next poll compares against it. */
  retarget(host: string, port: number): void {
    this.hubHost = host;
    this.hubPort = port;
  }

  /** Stops polling. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async tick(): Promise<void> {
    if (this.probing) return;
    this.probing = true;
    try {
      const address = await this.probe(this.hubHost, this.hubPort);
      if (this.timer !== undefined && address !== this.last) {
        const previous = this.last;
        this.last = address;
        this.onChange(address, previous);
      }
    } finally {
      this.probing = false;
    }
  }
}
