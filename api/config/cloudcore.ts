/** cloudcore.yaml, shaped like KubeEdge's CloudCore v1alpha2 config. */
import { basename, dirname, join } from 'node:path';
import { s, type Infer } from '../../core/schema.js';

export const cloudCoreSchema = s.obj({
  apiVersion: s.str('cloudcore.config.kubeedge.io/v1alpha2', ['cloudcore.config.kubeedge.io/v1alpha2', 'cloudcore.config.kubeedge.io/v1alpha1']),
  kind: s.str('CloudCore', ['CloudCore']),
  database: s.obj({ dataSource: s.str('/var/lib/kubeedge/cloudcore.db') }),
  modules: s.obj({
    cloudHub: s.obj({
      enable: s.bool(true),
      advertiseAddress: s.strs([]),
      /** names the server certificate also covers, beside the addresses (as KubeEdge's) */
      dnsNames: s.strs([]),
      nodeLimit: s.num(1000, { min: 1, integer: true }),
      keepaliveInterval: s.num(30, { min: 0.1 }),
      tlsCAFile: s.str('/etc/kubeedge/ca/rootCA.crt'),
      tlsCAKeyFile: s.str('/etc/kubeedge/ca/rootCA.key'),
      // not KubeEdge's certs/server.crt: that is the edge's certificate, and both may share a host
      tlsCertFile: s.str('/etc/kubeedge/certs/cloudcore.crt'),
      tlsPrivateKeyFile: s.str('/etc/kubeedge/certs/cloudcore.key'),
      tokenRefreshDuration: s.num(12, { min: 0.001 }),
      /** the HMAC secret of join tokens (made when missing); the current token is written beside it, as `token`. Empty: beside the CA (see cloudFiles) */
      tokenSecretFile: s.str(''),
      edgeCertSigningDuration: s.num(365, { min: 0.0001 }),
      /** largest frame accepted from an edge, bytes */
      maxFrameBytes: s.num(1024 * 1024, { min: 1024, integer: true }),
      websocket: s.obj({ enable: s.bool(true), address: s.str('0.0.0.0'), port: s.num(10000, { min: 0, max: 65535, integer: true }) }),
      https: s.obj({ enable: s.bool(true), address: s.str('0.0.0.0'), port: s.num(10002, { min: 0, max: 65535, integer: true }) }),
    }),
    apiServer: s.obj({
      enable: s.bool(true),
      address: s.str('0.0.0.0'),
      port: s.num(6443, { min: 0, max: 65535, integer: true }),
      /** the admin bearer token (made when missing). Empty: beside the CA (see cloudFiles) */
      tokenFile: s.str(''),
    }),
    /** KubeEdge's router: rest ↔ eventbus/servicebus by Rules; loopback (plain HTTP) unless told, else TLS and the admin token */
    router: s.obj({
      enable: s.bool(false),
      address: s.str('127.0.0.1'),
      port: s.num(9443, { min: 0, max: 65535, integer: true }),
      restTimeout: s.num(60, { min: 0.1 }),
    }),
    edgeController: s.obj({ enable: s.bool(true) }),
    deviceController: s.obj({ enable: s.bool(true) }),
    syncController: s.obj({ enable: s.bool(true) }),
  }),
});

export type CloudCoreConfig = Infer<typeof cloudCoreSchema>;
export type CloudHubConfig = CloudCoreConfig['modules']['cloudHub'];
export type ApiServerConfig = CloudCoreConfig['modules']['apiServer'];

/**
 * The files a cloudcore writes that KubeEdge's config has no key for: where the config names them,
 * else beside its CA, as keadm lays a config folder out (`<dir>/ca/rootCA.crt` → `<dir>/tokens/…`,
 * `<dir>/admin.token`, `<dir>/admin.kubeconfig`). So a cloudcore started from KubeEdge's own cloudcore.yaml, whose CA lives
 * elsewhere, never writes into (or reads the tokens of) the host's /etc/kubeedge.
 */
export function cloudFiles(config: CloudCoreConfig): { tokenSecret: string; joinToken: string; adminToken: string; kubeconfig: string } {
  const hub = config.modules.cloudHub;
  const caDir = dirname(hub.tlsCAFile);
  const root = basename(caDir) === 'ca' ? dirname(caDir) : caDir;
  const tokenSecret = hub.tokenSecretFile || join(root, 'tokens', 'tokensecret');
  return { tokenSecret, joinToken: join(dirname(tokenSecret), 'token'), adminToken: config.modules.apiServer.tokenFile || join(root, 'admin.token'), kubeconfig: join(root, 'admin.kubeconfig') };
}
