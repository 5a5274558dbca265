import { describe, expect, it } from 'vitest';
import { admit, type Knock } from '../../../cloud-stub/cloudhub/index.js';

const ok: Knock = { path: '/e632aba927ea4ac2b575ec1603d56f10/gw-1/events', authorized: true, cn: 'system:node:gw-1' };
const none = (): boolean => false;

describe('who may connect to CloudHub as which node', () => {
  it.each<[string, Partial<Knock>, ReturnType<typeof admit>]>([
    ['a node with its own certificate', {}, { node: 'gw-1' }],
    ['with matching node_id and project_id headers', { nodeHeader: 'gw-1', projectHeader: 'e632aba927ea4ac2b575ec1603d56f10' }, { node: 'gw-1' }],
    ['a query string after the path', { path: `${ok.path}?x=1` }, { node: 'gw-1' }],
    ['another path', { path: '/gw-1/events' }, { status: 404, text: 'Not Found', reason: 'path /gw-1/events is not /<projectID>/<nodeName>/events' }],
    ['a node_id header naming another node', { nodeHeader: 'gw-2' }, { status: 400, text: 'Bad Request', reason: 'node_id header gw-2 does not match path node gw-1' }],
    ['a project_id header that is not the path\'s', { projectHeader: 'other' }, { status: 400, text: 'Bad Request', reason: 'project_id header does not match the path' }],
    ['a node name that is no DNS subdomain', { path: '/p/GW_1/events', cn: 'system:node:GW_1' }, { status: 400, text: 'Bad Request', reason: 'node name "GW_1" is not a valid DNS subdomain' }],
    ['no certificate the CA signed', { authorized: false, authorizationError: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }, { status: 401, text: 'Unauthorized', reason: 'client certificate not authorized: UNABLE_TO_VERIFY_LEAF_SIGNATURE' }],
    ['no certificate at all', { authorized: false }, { status: 401, text: 'Unauthorized', reason: 'client certificate not authorized: none presented' }],
    ['a node acting as another: its certificate names gw-2', { cn: 'system:node:gw-2' }, { status: 403, text: 'Forbidden', reason: 'certificate CN "system:node:gw-2" may not act as node gw-1' }],
    ['an admin certificate, which is no node', { cn: 'kubeedge-admin' }, { status: 403, text: 'Forbidden', reason: 'certificate CN "kubeedge-admin" may not act as node gw-1' }],
  ])('%s', (_, knock, want) => {
    expect(admit({ ...ok, ...knock }, none, 0, 10)).toEqual(want);
  });

  it('refuses a new node over nodeLimit, and lets a connected one replace its session', () => {
    expect(admit(ok, none, 10, 10)).toEqual({ status: 503, text: 'Service Unavailable', reason: 'node limit 10 reached' });
    expect(admit(ok, (n) => n === 'gw-1', 10, 10)).toEqual({ node: 'gw-1' });
  });
});
