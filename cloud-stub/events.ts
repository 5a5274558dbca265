/**
 * Events, as Kubernetes records them (`kubectl get events`, the dashboard's feed): a node turning
 * Ready or NotReady, a device going online or offline, a manifest the API refused. Kept in memory
 * and bounded (Kubernetes keeps them an hour; a restarted cloudcore starts a new feed).
 */
import { EventEmitter } from 'node:events';

export interface ClusterEvent {
  apiVersion: 'v1';
  kind: 'Event';
  metadata: { name: string; namespace: string; resourceVersion: string; creationTimestamp: string };
  involvedObject: { kind: string; name: string; namespace?: string };
  reason: string;
  message: string;
  type: 'Normal' | 'Warning';
  count: number;
  firstTimestamp: string;
  lastTimestamp: string;
  source: { component: 'cloudcore' };
}

const KEPT = 500;

export class EventLog {
  private readonly ring: ClusterEvent[] = [];
  private seq = 0;
  readonly events = new EventEmitter<{ event: [ClusterEvent] }>();

  constructor(private readonly now: () => number = Date.now) {}

  record(type: ClusterEvent['type'], reason: string, object: ClusterEvent['involvedObject'], message: string): void {
    const time = new Date(this.now()).toISOString();
    const namespace = object.namespace ?? 'default';
    const e: ClusterEvent = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${object.name}.${(++this.seq).toString(16)}`, namespace, resourceVersion: String(this.seq), creationTimestamp: time },
      involvedObject: object,
      reason,
      message,
      type,
      count: 1,
      firstTimestamp: time,
      lastTimestamp: time,
      source: { component: 'cloudcore' },
    };
    this.ring.push(e);
    if (this.ring.length > KEPT) this.ring.shift();
    this.events.emit('event', e);
  }

  /** the events kept, oldest first; of one namespace when given */
  list(namespace?: string): ClusterEvent[] {
    return namespace === undefined ? [...this.ring] : this.ring.filter((e) => e.metadata.namespace === namespace);
  }
}
