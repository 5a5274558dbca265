import { describe, expect, it } from 'vitest';
import { newMessage } from '../../../core/message.js';
import { twinMessages } from '../../../runtime/edgehub/kubeedge/messages.js';
import type { TwinReport } from '../../../runtime/devicetwin/twin.js';

const report = (twins: TwinReport['twins']) =>
  newMessage<TwinReport>({ source: 'metamanager', group: 'twin', operation: 'update', resource: 'default/device/plc-1' }, { twins, state: 'online' });
const reading = (propertyName: string, value: string) => ({ propertyName, reported: { value, metadata: { timestamp: 1 } } });

describe('twin reports for a KubeEdge cloud', () => {
  // KubeEdge 1.23's cloud writes a property it meets for the first time as "" (seen with the real one)
  it('sends a twin message twice when it names a property this cloud has not been sent, once after', () => {
    const known = new Set<string>();
    const first = report([reading('temperature', '21.5')]);
    const a = twinMessages(first, 'default', 'plc-1', undefined, known, 1000);
    const twins = a.wire.filter((m) => m.route.resource === 'device/default/plc-1/twin/edge_updated');
    expect(twins).toHaveLength(2);
    expect(twins[0]?.content).toMatchObject({ twin: { temperature: { actual: { value: '21.5' } } } });
    expect(twins[1]?.content).toEqual({ ...(twins[0]?.content as object), event_id: (twins[1]?.content as { event_id: string }).event_id });
    // the outbox's acknowledgement is the answer to the report's own id, on the last copy
    expect(twins[1]?.header.msg_id).toBe(first.header.msg_id);
    expect(twins[0]?.header.msg_id).not.toBe(first.header.msg_id);

    const b = twinMessages(report([reading('temperature', '22')]), 'default', 'plc-1', a.state, known, 2000);
    expect(b.wire.map((m) => m.route.resource)).toEqual(['device/default/plc-1/twin/edge_updated']);

    const c = twinMessages(report([reading('temperature', '22'), reading('counter', '7')]), 'default', 'plc-1', b.state, known, 3000);
    expect(c.wire).toHaveLength(2);
  });
});
