import { describe, expect, it } from 'vitest';
import { parsePath } from '../../../api/resources.js';
import { resourceRoute } from '../../../cloud-stub/apiserver/route.js';
import { ApiError } from '../../../cloud-stub/apiserver/status.js';

const route = (method: string, url: string): string => {
  const u = new URL(url, 'https://cloud');
  try {
    return resourceRoute(method, parsePath(u.pathname), u.pathname, u.searchParams);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    return `${err.code} ${err.message}`;
  }
};

describe('which handler a request to the resource API reaches', () => {
  it.each([
    ['GET', '/api/v1/namespaces/default/pods', 'list'],
    ['GET', '/api/v1/pods', 'list'],
    ['GET', '/api/v1/namespaces/default/pods/web', 'get'],
    ['GET', '/api/v1/namespaces/default/pods?watch=true', 'watch'],
    ['GET', '/api/v1/namespaces/default/pods/web?watch=1', 'watch'],
    ['GET', '/api/v1/namespaces/default/pods?watch=false', 'list'],
    ['GET', '/api/v1/nodes/edge-1', 'get'],
    ['GET', '/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices/thermostat', 'get'],
    ['POST', '/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices', 'create'],
    ['PUT', '/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices/thermostat', 'update'],
    ['PATCH', '/api/v1/nodes/edge-1', 'update'],
    ['DELETE', '/api/v1/namespaces/default/configmaps/settings', 'delete'],
    ['DELETE', '/api/v1/nodes/edge-1', 'delete'],
    ['GET', '/api/v1/namespaces/default/pods/web/status', 'pod-status'],
    ['GET', '/api/v1/namespaces/default/pods/web/log', 'pod-log'],
    ['POST', '/api/v1/namespaces/default/pods/web/eviction', 'evict'],
    ['GET', '/apis/devices.kubeedge.io/v1beta1/namespaces/default/devicestatuses/thermostat', 'get'],
  ])('%s %s: %s', (method, url, want) => {
    expect(route(method, url)).toBe(want);
  });

  it.each([
    ['GET', '/api/v1/namespaces/default/widgets', '404 no resource at /api/v1/namespaces/default/widgets'],
    ['GET', '/api/v1/pods/web', '404 no resource at /api/v1/pods/web'],
    ['POST', '/api/v1/nodes', '405 POST is not supported on /api/v1/nodes'],
    ['POST', '/api/v1/pods', '405 POST is not supported on /api/v1/pods'],
    ['DELETE', '/api/v1/namespaces/default/pods', '405 DELETE is not supported on /api/v1/namespaces/default/pods'],
    ['PUT', '/api/v1/namespaces/default/pods', '405 PUT is not supported on /api/v1/namespaces/default/pods'],
    ['HEAD', '/api/v1/namespaces/default/pods/web', '405 HEAD is not supported on /api/v1/namespaces/default/pods/web'],
    ['GET', '/api/v1/namespaces/default/pods/web/exec', '400 Upgrade request required: exec is a WebSocket (GET /api/v1/namespaces/default/pods/web/exec came without one)'],
    ['POST', '/api/v1/namespaces/default/pods/web/attach', '400 Upgrade request required: attach is a WebSocket (POST /api/v1/namespaces/default/pods/web/attach came without one)'],
    ['PUT', '/api/v1/namespaces/default/pods/web/status', '405 PUT is not supported on /api/v1/namespaces/default/pods/web/status'],
    ['GET', '/api/v1/namespaces/default/pods/web/eviction', '405 GET is not supported on /api/v1/namespaces/default/pods/web/eviction'],
    ['PUT', '/apis/devices.kubeedge.io/v1beta1/namespaces/default/devicestatuses/thermostat', '405 devicestatuses are read only: they show what edges report'],
    ['DELETE', '/apis/devices.kubeedge.io/v1beta1/namespaces/default/devicestatuses/thermostat', '405 devicestatuses are read only: they show what edges report'],
    ['GET', '/api/v1/namespaces/default/configmaps/settings/status', '405 GET is not supported on /api/v1/namespaces/default/configmaps/settings/status'],
  ])('%s %s is refused: %s', (method, url, want) => {
    expect(route(method, url)).toBe(want);
  });
});
