// Reading the process's own Prometheus registry (src/observe/metrics.ts) in tests.

import { registry } from '../../src/observe/metrics.js';

/** Sum of a metric's values over every series whose labels include all of `labels` (0 when none). */
export async function counter(name: string, labels: Record<string, string>): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  return (m?.values ?? []).filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((n, v) => n + v.value, 0);
}
