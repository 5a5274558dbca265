/** KubeEdge's MQTT topics for twins, device state and membership (CONTRACT.md section 7). */

export type TwinAction = 'twin/update' | 'twin/get' | 'twin/cloud_updated' | 'state/update';

export type Request =
  | { kind: 'device'; namespace: string; name: string; action: TwinAction }
  | { kind: 'membership'; node: string };

const DEVICE = /^\$hw\/events\/device\/([^/+#]+)\/([^/+#]+)\/(twin\/update|twin\/get|twin\/cloud_updated|state\/update)$/;
const MEMBERSHIP = /^\$hw\/events\/node\/([^/+#]+)\/membership\/get$/;

export function parseTopic(topic: string): Request | undefined {
  let m = DEVICE.exec(topic);
  if (m) return { kind: 'device', namespace: m[1] as string, name: m[2] as string, action: m[3] as TwinAction };
  m = MEMBERSHIP.exec(topic);
  if (m) return { kind: 'membership', node: m[1] as string };
  return undefined;
}

export const deviceTopic = (id: string, suffix: string): string => `$hw/events/device/${id}/${suffix}`;
export const membershipTopic = (node: string, suffix: 'get/result' | 'updated'): string => `$hw/events/node/${node}/membership/${suffix}`;

/** where the answer (or the error) to a request goes; a cloud sync gets none */
export function resultTopicOf(req: Request): string | undefined {
  if (req.kind === 'membership') return membershipTopic(req.node, 'get/result');
  const id = `${req.namespace}/${req.name}`;
  switch (req.action) {
    case 'twin/update':
      return deviceTopic(id, 'twin/update/result');
    case 'twin/get':
      return deviceTopic(id, 'twin/get/result');
    case 'state/update':
      return deviceTopic(id, 'state/update/result');
    default:
      return undefined;
  }
}
