// Counters of worker threads that have stopped (input removed or restarted by a reload, or the gateway
// stopping) stay in the scrape: a Prometheus counter must never go backwards. Their last values are summed
// into one registry's JSON (gauges are left out: a stopped worker holds no sessions or templates).

import client from 'prom-client';
import { addThreadMetrics, type MetricsJson } from '../observe/metrics.js';

let retired: MetricsJson | undefined;
/** Retirements run one after the other (each reads the sum the previous one left). */
let chain: Promise<void> = Promise.resolve();

export function retireMetrics(last: MetricsJson): Promise<void> {
  const counters = last.filter((m) => String(m.type) === 'counter');
  chain = chain.then(async () => {
    if (!retired) {
      retired = counters;
      addThreadMetrics(async () => (retired ? [retired] : []));
    } else retired = await client.AggregatorRegistry.aggregate([retired, counters]).getMetricsAsJSON();
  });
  return chain;
}
