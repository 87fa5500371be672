/**
 * DIR/timeline.html: the live timeline's page (operator/timeline), fed from the run's report and
 * the timeline it recorded instead of a server, with everything it needs inside it, so that it
 * opens from the file with no server and no network.
 */
import type { RunSummary } from '../../operator/timeline/messages.js';
import type { TimelineFeed } from '../../operator/timeline/feed.js';
import { staticPage } from '../../operator/timeline/page.js';
import type { Report } from './run.js';

export function runSummary(report: Report): RunSummary {
  return {
    scenario: report.scenario, guarantee: report.guarantee, trace: report.trace, packets: report.packets, instances: report.instances,
    outputsEqual: report.comparison ? report.comparison.equal : null, errors: report.errors, durationMs: report.durationMs,
  };
}

/** Ends the feed with the report (a page watching it live sees the run's end) and returns the static page. */
export function renderTimeline(report: Report, feed: TimelineFeed): string {
  feed.end(runSummary(report));
  return staticPage(`OpenMB timeline: ${report.middlebox}, ${report.scenario}`, feed.history());
}
