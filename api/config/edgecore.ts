/** edgecore.yaml, shaped like KubeEdge's EdgeCore v1alpha2 config. */
import { hostname } from 'node:os';
import { s, type Infer } from '../../core/schema.js';

export const DEFAULT_PROJECT_ID = 'e632aba927ea4ac2b575ec1603d56f10';

export const edgeCoreSchema = s.obj({
  apiVersion: s.str('edgecore.config.kubeedge.io/v1alpha2', ['edgecore.config.kubeedge.io/v1alpha2', 'edgecore.config.kubeedge.io/v1alpha1']),
  kind: s.str('EdgeCore', ['EdgeCore']),
  database: s.obj({ aliasName: s.str('default'), driverName: s.str('sqlite3', ['sqlite3']), dataSource: s.str('/var/lib/kubeedge/edgecore.db') }),
  modules: s.obj({
    edgeHub: s.obj({
      enable: s.bool(true),
      heartbeat: s.num(15, { min: 0.05 }),
      httpServer: s.str('https://127.0.0.1:10002'),
      projectID: s.str(DEFAULT_PROJECT_ID),
      token: s.str(''),
      tlsCaFile: s.str('/etc/kubeedge/ca/rootCA.crt'),
      tlsCertFile: s.str('/etc/kubeedge/certs/server.crt'),
      tlsPrivateKeyFile: s.str('/etc/kubeedge/certs/server.key'),
      /** the key of the edge certificate it asks for: ECDSA P-256, as KubeEdge's edge, or RSA 2048 */
      certificateKeyType: s.str('ecdsa', ['ecdsa', 'rsa']),
      /** what the cloud speaks: `cbor` (our cloudcore: binary CBOR frames, batched) or `kubeedge` (KubeEdge's cloudcore: JSON text frames, its node registration and twin messages); keadm join writes it */
      dialect: s.str('cbor', ['cbor', 'kubeedge']),
      /** upstream rate limit, in frames (a frame may batch many messages), as KubeEdge's messageQPS/messageBurst */
      messageQPS: s.num(30, { min: 0.1 }),
      messageBurst: s.num(60, { min: 1, integer: true }),
      /** largest frame accepted from the cloud, bytes: a ConfigMap or Secret may hold 1 MiB, and its envelope more */
      maxFrameBytes: s.num(2 * 1024 * 1024, { min: 1024, integer: true }),
      websocket: s.obj({
        enable: s.bool(true),
        server: s.str('127.0.0.1:10000'),
        handshakeTimeout: s.num(30, { min: 0.1 }),
        readDeadline: s.num(15, { min: 0.1 }),
        writeDeadline: s.num(15, { min: 0.1 }),
      }),
    }),
    eventBus: s.obj({
      enable: s.bool(true),
      mqttMode: s.num(0, { min: 0, max: 2, integer: true }),
      mqttServerInternal: s.str('tcp://127.0.0.1:1884'),
      /** tcp:// or mqtt:// (plain), ssl://, tls://, mqtts:// (TLS; also tcp:// when eventBusTLS is enabled) */
      mqttServerExternal: s.str('tcp://127.0.0.1:1883'),
      mqttQOS: s.num(0, { min: 0, max: 2, integer: true }),
      /** the retain flag of what edgecore publishes on the external broker */
      mqttRetain: s.bool(false),
      /** the external broker's session is kept under this id (empty: edgecore-<node name>), so it keeps QoS 1 messages while edgecore restarts */
      mqttSubClientID: s.str(''),
      /** a second connection, for what edgecore publishes, under this id (empty: the one above serves both) */
      mqttPubClientID: s.str(''),
      mqttUsername: s.str(''),
      /** never logged */
      mqttPassword: s.str(''),
      /** seconds the external broker has to answer a connection (CONNACK) before it is tried again */
      mqttConnectTimeout: s.num(10, { min: 0.1 }),
      eventBusTLS: s.obj({
        enable: s.bool(false),
        tlsMqttCAFile: s.str('/etc/kubeedge/ca/rootCA.crt'),
        tlsMqttCertFile: s.str('/etc/kubeedge/certs/server.crt'),
        tlsMqttPrivateKeyFile: s.str('/etc/kubeedge/certs/server.key'),
      }),
    }),
    deviceTwin: s.obj({
      enable: s.bool(true),
      /** standalone (edgeHub disabled): Device and DeviceModel manifests are read from this folder, and re-read when it changes */
      manifestDir: s.str('/etc/kubeedge/devices'),
      /** DMI: the unix socket where mappers (drivers in their own process, as KubeEdge's) register; empty: none */
      dmiSockPath: s.str('/etc/kubeedge/dmi.sock'),
    }),
    /** drivers in-process (Modbus, serial, GPIO) for devices of this node; disable it to leave them to external mappers */
    deviceManager: s.obj({ enable: s.bool(true) }),
    metaManager: s.obj({
      enable: s.bool(true),
      /** messages kept for the cloud while it is away (uploads, twin reports); beyond it, see docs/design.md */
      outboxLimit: s.num(10_000, { min: 10, integer: true }),
      metaServer: s.obj({ enable: s.bool(true), server: s.str('127.0.0.1:10550') }),
    }),
    /** HTTP between the cloud's router and this edge's apps; off by default, as KubeEdge's */
    serviceBus: s.obj({ enable: s.bool(false), server: s.str('127.0.0.1'), port: s.num(9060, { min: 0, max: 65535, integer: true }), timeout: s.num(60, { min: 0.1 }) }),
    edged: s.obj({
      enable: s.bool(true),
      hostnameOverride: s.str(hostname().toLowerCase()),
      /** labels this node asks for; the cloud adds them to its Node (and binds pods by them) */
      nodeLabels: s.map(),
      /** pods' state, volumes and (process runtime) logs; KubeEdge's default is kubelet's /var/lib/kubelet */
      rootDirectory: s.str('/var/lib/kubeedge/edged'),
      tailoredKubeletConfig: s.obj({
        /** podman's Docker-compatible API (Debian's podman.socket); pods without runtimeClassName run there */
        containerRuntimeEndpoint: s.str('unix:///run/podman/podman.sock'),
        /** a container's log is rotated at this size, and this many files are kept (process runtime; podman: max-size) */
        containerLogMaxSize: s.str('10Mi'),
        containerLogMaxFiles: s.num(5, { min: 2, integer: true }),
        crashLoopBackOff: s.obj({
          maxContainerRestartPeriod: s.str('5m0s'),
          /** the first back-off after a crash (kubelet's is a fixed 10s; ours can be set) */
          initialContainerRestartPeriod: s.str('10s'),
        }),
      }),
    }),
  }),
});

export type EdgeCoreConfig = Infer<typeof edgeCoreSchema>;
export type EdgeHubConfig = EdgeCoreConfig['modules']['edgeHub'];
export type MetaManagerConfig = EdgeCoreConfig['modules']['metaManager'];
export type EdgedConfig = EdgeCoreConfig['modules']['edged'];
