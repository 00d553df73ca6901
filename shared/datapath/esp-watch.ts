import type { Tunnel } from './tunnel.js';

/** How often the engine adds what ESP SAs counted to their tunnels and checks for a due rekey. */
export const ESP_WATCH_INTERVAL_MS = 1000;

/**
 * `EspWatch`: one timer, running while some tunnel is encrypted, that adds what the ESP SAs
 * counted to their tunnels and so reports due rekeys. It keeps the encrypted tunnels themselves,
 * so a change of one tunnel costs the same with 10 tunnels or 10,000, and the timer walks only them.
 */
export class EspWatch {
  #timer: NodeJS.Timeout | null = null;
  readonly #encrypted = new Set<Tunnel>();

  /** Follows `tunnel` after it was added, changed or removed (closed): watched while it runs encrypted. */
  follow(tunnel: Tunnel): void {
    if (tunnel.sas.encrypted && !tunnel.closed) this.#encrypted.add(tunnel);
    else this.#encrypted.delete(tunnel);
    if (this.#encrypted.size > 0 && this.#timer === null) {
      this.#timer = setInterval(() => {
        for (const watched of this.#encrypted) watched.sas.absorb();
      }, ESP_WATCH_INTERVAL_MS);
      this.#timer.unref();
    } else if (this.#encrypted.size === 0) {
      this.stop();
    }
  }

  /** Watches nothing more (the engine closed every tunnel). */
  stop(): void {
    this.#encrypted.clear();
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }
}
