/**
 * The one Prometheus collector of a process: every metric OpenMB exports is registered here
 * under the `openmb_` prefix, with the process's identity (its pool, instance or switch) as
 * default labels, and served in the Prometheus text format. Most figures already live in the
 * data plane's own counters, so they are read at scrape time rather than mirrored on every packet.
 */
import type { ServerResponse } from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export const METRIC_PREFIX = 'openmb_';

/** One labelled value of a metric read at scrape time. */
export interface Sample<L extends string> {
  labels: Record<L, string>;
  value: number;
}

export interface CollectorOptions {
  /** Labels every series of this process carries (e.g. its pool and instance). */
  labels?: Record<string, string>;
  /** Node's process metrics (CPU, memory, event-loop lag) too; off in tests that compare output. */
  processMetrics?: boolean;
}

export class Collector {
  readonly registry = new Registry();

  constructor(o: CollectorOptions = {}) {
    if (o.labels) this.registry.setDefaultLabels(o.labels);
    if (o.processMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: METRIC_PREFIX });
  }

  /** A counter the code increments as things happen. */
  counter<L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> {
    return new Counter({ name: METRIC_PREFIX + name, help, labelNames, registers: [this.registry] });
  }

  histogram<L extends string>(name: string, help: string, labelNames: readonly L[], buckets: number[]): Histogram<L> {
    return new Histogram({ name: METRIC_PREFIX + name, help, labelNames, buckets, registers: [this.registry] });
  }

  /** A counter whose running totals are kept elsewhere (a data-plane counter), read at each scrape. */
  totals<L extends string>(name: string, help: string, labelNames: readonly L[], read: () => Sample<L>[] | Promise<Sample<L>[]>): void {
    new Counter<L>({
      name: METRIC_PREFIX + name, help, labelNames, registers: [this.registry],
      async collect() {
        const samples = await read();
        this.reset();
        for (const s of samples) this.inc(s.labels as Partial<Record<L, string>>, s.value);
      },
    });
  }

  /** A gauge read at each scrape; series that are gone (a removed instance) disappear with it. */
  gauge<L extends string>(name: string, help: string, labelNames: readonly L[], read: () => Sample<L>[] | Promise<Sample<L>[]>): void {
    new Gauge<L>({
      name: METRIC_PREFIX + name, help, labelNames, registers: [this.registry],
      async collect() {
        const samples = await read();
        this.reset();
        for (const s of samples) this.set(s.labels as Partial<Record<L, string>>, s.value);
      },
    });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** Answers a scrape; a collect function that fails is a 500 that names it. */
  serve(res: ServerResponse): void {
    this.text().then((body) => {
      res.writeHead(200, { 'content-type': this.registry.contentType }).end(body);
    }, (e: Error) => {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`collecting metrics failed: ${e.message}\n`);
    });
  }
}
