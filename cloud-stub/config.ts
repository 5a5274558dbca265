/** cloudcore.yaml, shaped like KubeEdge's CloudCore v1alpha2 config. */
import { s, type Infer } from '../runtime/core/schema.js';

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
      /** the HMAC secret of join tokens (made when missing); the current token is written beside it, as `token` */
      tokenSecretFile: s.str('/etc/kubeedge/tokens/tokensecret'),
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
      tokenFile: s.str('/etc/kubeedge/admin.token'),
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
