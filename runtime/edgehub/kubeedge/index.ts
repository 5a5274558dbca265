/**
 * The link to a KubeEdge cloudcore (modules.edgeHub.dialect: kubeedge): JSON text frames, one
 * message each, and the messages KubeEdge's own edge modules send in place of ours:
 *
 *   ours (to our cloudcore)                     KubeEdge's (to its cloudcore)
 *   keepalive from edgehub                      keepalive from "websocket", content "ping"
 *   sync {storeId}                              nothing: its cloud keeps no store id
 *   twin update <ns>/device/<name>              update device/<ns>/<name>/twin/edge_updated (+ state/update); answered "OK"
 *   update <ns>/podstatus/<name>                meta patch <ns>/podpatch/<name>; answered {Object, Err}
 *   update null/nodestatus/<node>               the node keeper's nodepatch (node.ts)
 *   user upload <topic>, rule topics            as they are; answered by nothing, so "OK" once written
 *
 * Downstream, the cloud's objects come as ours do (resource insert/update/delete with a
 * resourceversion); its `twin update membership` is not needed (DeviceTwin takes devices from the
 * objects) and dropped here. Answers `{Object, Err}` become "OK" or `{error}` for our senders, and
 * each is acknowledged to the cloud with "OK" as KubeEdge's edge does.
 */
import { jsonCodec } from '../../../core/codec.js';
import type { Clock } from '../../../core/clock.js';
import type { Logger } from '../../../core/log.js';
import { ACK_CONTENT, Group, Operation, newMessage, parseResource, responseTo, type Message } from '../../../core/message.js';
import type { TwinReport } from '../../devicetwin/twin.js';
import { EDGEHUB, type Dialect } from '../dialect.js';
import { Source, answerForModules, podPatch, twinMessages } from './messages.js';
import { createNodeKeeper, type NodeReport } from './node.js';

export interface KubeEdgeDialectDeps {
  nodeName: string;
  labels: Record<string, string>;
  clock: Clock;
  log: Logger;
}

export function createKubeEdgeDialect(deps: KubeEdgeDialectDeps): Dialect {
  return new KubeEdgeDialect(deps);
}

class KubeEdgeDialect implements Dialect {
  readonly name = 'kubeedge';
  readonly codec = jsonCodec;
  // KubeEdge's cloud reads messages only from a connection that says it carries them
  readonly headers = { connectionuse: 'msg' };
  private readonly keeper: ReturnType<typeof createNodeKeeper>;
  /** the state last sent per device on this link: a state/update goes only when it changed */
  private readonly sentState = new Map<string, string>();
  /** the twin properties this cloud has been sent per device (see twinMessages) */
  private readonly knownTwins = new Map<string, Set<string>>();
  private send: ((msgs: Message[]) => void) | undefined;

  constructor(private readonly deps: KubeEdgeDialectDeps) {
    this.keeper = createNodeKeeper(deps);
  }

  keepalive(): Message {
    return newMessage({ source: Source.keepalive, group: Group.resource, operation: Operation.keepalive, resource: 'node' }, 'ping');
  }

  up(msg: Message): ReturnType<Dialect['up']> {
    const { operation, group } = msg.route;
    if (operation === Operation.response || operation === Operation.keepalive) return { wire: [msg] };
    if (operation === Operation.sync) return { wire: [] };
    const key = parseResource(msg.route.resource);
    if (group === Group.twin && key?.kind === 'device') return { wire: this.twinUp(msg as Message<TwinReport>, key.namespace, key.name) };
    if (key?.kind === 'podstatus') return { wire: [podPatch(msg, key.namespace, key.name)] };
    if (key?.kind === 'nodestatus') {
      this.keeper.report(msg.content as NodeReport);
      return { wire: [], answer: 'now' };
    }
    return { wire: [msg], answer: 'written' };
  }

  private twinUp(msg: Message<TwinReport>, namespace: string, name: string): Message[] {
    const id = `${namespace}/${name}`;
    let known = this.knownTwins.get(id);
    if (!known) this.knownTwins.set(id, (known = new Set()));
    const { wire, state } = twinMessages(msg, namespace, name, this.sentState.get(id), known, this.deps.clock.now());
    this.sentState.set(id, state);
    return wire;
  }

  down(msg: Message): Message | undefined {
    if (msg.route.operation === Operation.response && msg.header.parent_msg_id !== undefined) {
      // KubeEdge's edge acknowledges every answer that is more than "OK"
      if (msg.content !== ACK_CONTENT) this.send?.([responseTo(msg, EDGEHUB, ACK_CONTENT)]);
      if (this.keeper.take(msg)) return undefined;
      return { ...msg, content: answerForModules(msg.content) };
    }
    const key = parseResource(msg.route.resource);
    // a device made anew in the cloud has a DeviceStatus that has seen none of its properties
    if (key?.kind === 'device' && msg.route.operation !== Operation.update) this.knownTwins.delete(`${key.namespace}/${key.name}`);
    if (msg.route.group === Group.twin && msg.route.resource === 'membership') {
      this.deps.log.debug(`membership from the cloud: ${JSON.stringify(msg.content).slice(0, 300)}`);
      return undefined;
    }
    return msg;
  }

  opened(s: (msgs: Message[]) => void): void {
    this.send = s;
    this.sentState.clear();
    this.knownTwins.clear(); // it may be a restarted cloudcore
    this.keeper.opened(s);
  }

  closed(): void {
    this.send = undefined;
    this.keeper.closed();
  }
}
