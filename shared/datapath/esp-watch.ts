import type { Tunnel } from './tunnel.js';

/** How often the engine adds what ESP SAs counted to their tunnels and checks for a due rekey. */
export const ESP_WATCH_INTERVAL_MS = 1000;

/**
 * `EspWatch`: one timer, running while some tunnel is encrypted, that adds what the ESP SAs
 * counted to their tunnels and so reports due rekeys.
 */
export class EspWatch {
  #timer: NodeJS.Timeout | null = null;

  constructor(private readonly tunnels: ReadonlyMap<string, Tunnel>) {}

  /**
   * Starts or stops the timer as the running tunnels need it; called after each change of them,
   * with the tunnel added or updated. Without a timer only that tunnel can have become encrypted:
   * no look at every tunnel on each change (a storm of moves at 10,000 members made that quadratic).
   */
  follow(changed?: Tunnel): void {
    if (this.#timer === null && changed?.sas.encrypted !== true) return;
    let any = false;
    for (const tunnel of this.tunnels.values()) {
      if (tunnel.sas.encrypted) {
        any = true;
        break;
      }
    }
    if (any && this.#timer === null) {
      this.#timer = setInterval(() => {
        for (const tunnel of this.tunnels.values()) if (tunnel.sas.encrypted) tunnel.sas.absorb();
      }, ESP_WATCH_INTERVAL_MS);
      this.#timer.unref();
    } else if (!any && this.#timer !== null) {
      clearInterval(this.#timer);
      this.#timer = null;
    }
  }
}
