/**
 * How modules learn of the cloud's objects: what MetaManager holds at start, then every change it
 * applies. DeviceTwin reads devices and models this way, Edged pods, ConfigMaps and Secrets; a
 * standalone edge's manifest folder is a source of the same shape.
 */
import type { KubeObject } from '../../api/object.js';

/** An object that was stored, changed or deleted (by the cloud through MetaManager, or a manifest file). */
export interface ObjectChange {
  operation: 'insert' | 'update' | 'delete';
  kind: string;
  namespace: string;
  name: string;
  /** its resourceVersion: a desired value it sets carries it as the twin's cloud version */
  rv: number;
  object?: KubeObject;
}

/** `replay` gives what is known at start (in the order of the kinds asked for), `subscribe` every later change. */
export interface ObjectSource {
  replay(): ObjectChange[];
  subscribe(listener: (change: ObjectChange) => void): void;
}
