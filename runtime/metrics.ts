/** edgecore's /metrics (on MetaServer, loopback): each module's figures, read at scrape time. */
import { counter, gauge, processMetrics, renderMetrics, type Family } from '../core/metrics.js';
import type { EdgeHubStats } from './edgehub/index.js';
import type { OutboxStats } from './metamanager/outbox.js';

export interface EdgeMetricsParts {
  /** undefined when the edge runs standalone (no link) */
  link?: () => EdgeHubStats;
  outbox?: () => OutboxStats | undefined;
  /** the other modules' own families (DeviceTwin, the device manager, EventBus), for those that run */
  modules: () => Family[];
}

export function edgeMetrics(parts: EdgeMetricsParts): () => string {
  let proc: (() => Family[]) | undefined;
  return () => {
    proc ??= processMetrics(); // the event-loop monitor runs from the first scrape on
    const families: Family[] = [];
    const l = parts.link?.();
    if (l) {
      families.push(
        gauge('edgecore_link_up', 'Whether the link to the cloud is up (1) or not (0).', l.connected ? 1 : 0),
        counter('edgecore_link_connects_total', 'Links to the cloud made since start.', l.connects),
        ...(l.rttMs !== undefined ? [gauge('edgecore_link_rtt_seconds', 'Round trip of the last WebSocket ping to the cloud, in seconds.', l.rttMs / 1000)] : []),
        counter('edgecore_link_messages_sent_total', 'Messages sent to the cloud.', l.sent),
        gauge('edgecore_link_queue_messages', 'Messages waiting for room on the link (not the outbox).', l.queued),
        counter('edgecore_link_dropped_messages_total', 'Messages for the cloud dropped because the link queue was full (none of them from the outbox).', l.dropped),
        counter('edgecore_link_frames_received_total', 'Frames read from the cloud, refused ones included.', l.framesIn),
        counter('edgecore_link_bad_frames_total', 'Frames from the cloud that could not be read.', l.badFrames),
      );
    }
    const o = parts.outbox?.();
    if (o) {
      families.push(
        gauge('edgecore_outbox_messages', 'Messages on disk waiting for the cloud to acknowledge them.', o.queued),
        counter('edgecore_outbox_collapsed_total', 'Messages replaced by a newer one for the same object while the outbox was full.', o.collapsed),
        counter('edgecore_outbox_dropped_total', 'Messages dropped (the oldest first) while the outbox was full.', o.dropped),
      );
    }
    return renderMetrics([...families, ...parts.modules(), ...proc()]);
  };
}
