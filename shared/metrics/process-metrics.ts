import { collectDefaultMetrics, type Registry } from 'prom-client';

/**
 * prom-client's defaults that break Prometheus' naming rules (gauges named `_total`, which
 * `promtool check metrics` rejects); the handle and request counts they carry are of little use.
 */
const MISNAMED_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/**
 * How often the event loop's delay is sampled (ms). prom-client's default of 10 ms woke the
 * process a hundred times a second for that alone: most of an idle hub's wake-ups, even with no
 * member. A stall shorter than this can fall between two samples; the lag metrics still show
 * any longer one.
 */
export const EVENT_LOOP_SAMPLE_MS = 100;

/** The process's own metrics (`process_*`: CPU, memory, open files; `nodejs_*`: heap, event loop lag, GC). */
export function registerProcessMetrics(register: Registry): void {
  collectDefaultMetrics({ register, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  for (const name of MISNAMED_DEFAULTS) register.removeSingleMetric(name);
}
