/**
 * What crossed every link, for cloudcore's /metrics: one object shared by all sessions (a session
 * costs no memory for it), messages counted by group and operation, each bounded to the names this
 * project uses (anything else an edge sends is "other").
 */
import { Group, Operation, type Message } from '../../core/message.js';
import { counter, type Family, type Sample } from '../../core/metrics.js';

const GROUPS: ReadonlySet<string> = new Set(Object.values(Group));
const OPERATIONS: ReadonlySet<string> = new Set(Object.values(Operation));

export class Traffic {
  framesIn = 0;
  framesOut = 0;
  resends = 0;
  acks = 0;
  badFrames = 0;
  /** `direction group operation` → count */
  private readonly messages = new Map<string, number>();

  count(direction: 'in' | 'out', msgs: readonly Message[]): void {
    for (const m of msgs) {
      const g = GROUPS.has(m.route.group) ? m.route.group : 'other';
      const o = OPERATIONS.has(m.route.operation) ? m.route.operation : 'other';
      const key = `${direction} ${g} ${o}`;
      this.messages.set(key, (this.messages.get(key) ?? 0) + 1);
    }
  }

  families(): Family[] {
    const byKind: Sample[] = [...this.messages].map(([key, value]) => {
      const [direction, group, operation] = key.split(' ') as [string, string, string];
      return { labels: { direction, group, operation }, value };
    });
    return [
      counter('cloudcore_frames_total', 'WebSocket frames on the edges\' links, by direction.', [
        { labels: { direction: 'in' }, value: this.framesIn },
        { labels: { direction: 'out' }, value: this.framesOut },
      ]),
      counter('cloudcore_messages_total', 'Messages on the edges\' links, by direction, group and operation.', byKind),
      counter('cloudcore_resends_total', 'Messages sent to an edge again because its acknowledgement was late.', this.resends),
      counter('cloudcore_acks_total', 'Acknowledgements taken from edges for messages sent to them.', this.acks),
      counter('cloudcore_bad_frames_total', 'Frames from edges that could not be read (refused).', this.badFrames),
    ];
  }
}
