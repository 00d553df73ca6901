import { collectDefaultMetrics, type Registry } from 'prom-client';

/**
 * prom-client's defaults that break Prometheus' naming rules (gauges named `_total`, which
 * `promtool check metrics` rejects); the handle and request counts they carry are of little use.
 */
const MISNAMED_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/** The process's own metrics (`process_*`: CPU, memory, open files; `nodejs_*`: heap, event loop lag, GC). */
export function registerProcessMetrics(register: Registry): void {
  collectDefaultMetrics({ register });
  for (const name of MISNAMED_DEFAULTS) register.removeSingleMetric(name);
}
