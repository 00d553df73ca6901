import { Registry } from 'prom-client';
import { describe, expect, it, vi } from 'vitest';

const calls = vi.hoisted(() => [] as unknown[]);

vi.mock('prom-client', async (importOriginal) => {
  const actual = await importOriginal<typeof import('prom-client')>();
  return {
    ...actual,
    collectDefaultMetrics: (config: Parameters<typeof actual.collectDefaultMetrics>[0]) => {
      calls.push(config);
      actual.collectDefaultMetrics(config);
    },
  };
});

const { EVENT_LOOP_SAMPLE_MS, registerProcessMetrics } = await import('../../shared/metrics/process-metrics.js');

describe('registerProcessMetrics', () => {
  it("samples the event loop's delay every EVENT_LOOP_SAMPLE_MS, not prom-client's 10 ms, and keeps the lag series", async () => {
    const register = new Registry();
    registerProcessMetrics(register);
    expect(calls).toEqual([expect.objectContaining({ eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS })]);
    expect(EVENT_LOOP_SAMPLE_MS).toBeGreaterThan(10);
    const text = await register.metrics();
    expect(text).toContain('nodejs_eventloop_lag_p99_seconds');
    expect(text).not.toContain('nodejs_active_handles_total');
  });
});
