/**
 * Events, as Kubernetes records them (`kubectl get events`, `describe`, the dashboard's feed): a node
 * turning Ready or NotReady, a device going online or offline or its Ready condition changing, a
 * desired value set, a container started again or backing off, a manifest the API refused. The same
 * thing again (object, reason, message) counts up one Event, as Kubernetes' recorder does. Kept in
 * memory and bounded (Kubernetes keeps them an hour; a restarted cloudcore starts a new feed), served
 * as core/v1 and as events.k8s.io/v1.
 */
import { EventEmitter } from 'node:events';

export interface InvolvedObject {
  kind: string;
  name: string;
  namespace?: string;
  uid?: string;
  apiVersion?: string;
}

export interface ClusterEvent {
  apiVersion: 'v1';
  kind: 'Event';
  metadata: { name: string; namespace: string; uid: string; resourceVersion: string; creationTimestamp: string };
  involvedObject: InvolvedObject;
  reason: string;
  message: string;
  type: 'Normal' | 'Warning';
  count: number;
  firstTimestamp: string;
  lastTimestamp: string;
  source: { component: 'cloudcore' };
  reportingComponent: 'cloudcore';
}

/** a change to the feed: a new event, or one counted up */
export interface EventChange {
  type: 'ADDED' | 'MODIFIED';
  event: ClusterEvent;
}

const KEPT = 500;

export class EventLog {
  private readonly ring: ClusterEvent[] = [];
  /** object, reason and message → the event that counts them */
  private readonly byKey = new Map<string, ClusterEvent>();
  private seq = 0;
  readonly events = new EventEmitter<{ event: [EventChange] }>();

  constructor(private readonly now: () => number = Date.now) {}

  record(type: ClusterEvent['type'], reason: string, object: InvolvedObject, message: string): void {
    const time = new Date(this.now()).toISOString().replace(/\.\d+Z$/, 'Z');
    const key = JSON.stringify([object.kind, object.namespace ?? '', object.name, object.uid ?? '', reason, message]);
    const seen = this.byKey.get(key);
    if (seen) {
      seen.count++;
      seen.lastTimestamp = time;
      seen.metadata.resourceVersion = String(++this.seq);
      // the newest at the end, as a new one would be
      this.ring.splice(this.ring.indexOf(seen), 1);
      this.ring.push(seen);
      this.events.emit('event', { type: 'MODIFIED', event: seen });
      return;
    }
    const n = ++this.seq;
    const e: ClusterEvent = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${object.name}.${n.toString(16)}`, namespace: object.namespace ?? 'default', uid: `${Date.now().toString(16)}-${n.toString(16)}`, resourceVersion: String(n), creationTimestamp: time },
      involvedObject: object,
      reason,
      message,
      type,
      count: 1,
      firstTimestamp: time,
      lastTimestamp: time,
      source: { component: 'cloudcore' },
      reportingComponent: 'cloudcore',
    };
    this.ring.push(e);
    this.byKey.set(key, e);
    if (this.ring.length > KEPT) {
      const gone = this.ring.shift() as ClusterEvent;
      for (const [k, v] of this.byKey) if (v === gone) this.byKey.delete(k);
    }
    this.events.emit('event', { type: 'ADDED', event: e });
  }

  /** the events kept, oldest first; of one namespace when given */
  list(namespace?: string): ClusterEvent[] {
    return namespace === undefined ? [...this.ring] : this.ring.filter((e) => e.metadata.namespace === namespace);
  }

  /** the feed's version now (a list's resourceVersion, from which a watch goes on) */
  version(): number {
    return this.seq;
  }
}

/** an event as events.k8s.io/v1 shows it */
export function eventsV1(e: ClusterEvent): Record<string, unknown> {
  return {
    apiVersion: 'events.k8s.io/v1',
    kind: 'Event',
    metadata: e.metadata,
    eventTime: null,
    reportingController: 'cloudcore',
    reportingInstance: 'cloudcore',
    action: e.reason,
    reason: e.reason,
    regarding: e.involvedObject,
    note: e.message,
    type: e.type,
    deprecatedCount: e.count,
    deprecatedFirstTimestamp: e.firstTimestamp,
    deprecatedLastTimestamp: e.lastTimestamp,
    deprecatedSource: e.source,
  };
}

/** what an Event names: the object as `describe` finds its events (kind, name, namespace, uid) */
export function refOf(o: { apiVersion?: string; kind?: string; metadata: { name: string; namespace?: string; uid?: string } }, kind = o.kind ?? ''): InvolvedObject {
  return { kind, name: o.metadata.name, ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}), ...(o.metadata.uid ? { uid: o.metadata.uid } : {}), ...(o.apiVersion ? { apiVersion: o.apiVersion } : {}) };
}
