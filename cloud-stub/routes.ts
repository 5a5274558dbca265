/** Names shared by the cloud's modules: groups on the cloud bus and the node prefix of resources. */
import { errorText } from '../core/errors.js';
import type { Message } from '../core/message.js';
import type { ModuleContext } from '../core/module.js';

export const ControllerGroup = {
  edge: 'edgecontroller',
  device: 'devicecontroller',
  sync: 'synccontroller',
  router: 'router',
  /** KubeEdge's own edgecores: their messages, and what they must be sent besides the objects */
  kubeedge: 'kubeedge',
} as const;

/** groups told when an edge connects or disconnects */
export const SESSION_LISTENERS = [ControllerGroup.edge, ControllerGroup.sync, ControllerGroup.kubeedge] as const;

export const HubEvent = {
  connected: 'connected',
  disconnected: 'disconnected',
} as const;

/** in `route.destination` of a message for an edge: send it once, untracked (KubeEdge's membership updates) */
export const SEND_ONCE = 'once';

export function nodeResource(node: string, resource: string): string {
  return `node/${node}/${resource}`;
}

export function splitNodeResource(resource: string): { node: string; resource: string } | undefined {
  const m = /^node\/([^/]+)\/(.*)$/s.exec(resource);
  return m ? { node: m[1] as string, resource: m[2] as string } : undefined;
}

/**
 * Hands CloudHub a message for an edge from a callback that runs later (an acknowledgement once a
 * write is durable, an answer): while cloudcore stops, CloudHub may be gone, and the edge will send
 * again what it did not see acknowledged; that is no reason to crash.
 */
export function toEdge(ctx: ModuleContext | undefined, msg: Message): void {
  try {
    ctx?.bus.send('cloudhub', msg);
  } catch (err) {
    ctx?.log.debug(`not sent to the edge: ${msg.route.operation} ${msg.route.resource}: ${errorText(err)}`);
  }
}
