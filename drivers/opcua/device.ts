/**
 * One OPC UA server as a device, with node-opcua's client: a session, each property read by a
 * monitored item (`subscribe: true`) or polled every collectCycle, desired values written with the
 * variable's own data type. One connection and one session at a time: a lost connection is torn
 * down (session closed, client disconnected) before the next attempt, with back-off, so sessions do
 * not pile up on the server. Security None, Sign or SignAndEncrypt, with the client's certificate
 * and key from files.
 */
import { mkdirSync } from 'node:fs';
import { OPCUACertificateManager } from 'node-opcua-certificate-manager';
import { OPCUAClient, MessageSecurityMode, SecurityPolicy, AttributeIds, ClientSubscription, ClientMonitoredItem, TimestampsToReturn, DataType, type ClientSession, type DataValue } from 'node-opcua-client';
import type { Logger } from '../../core/log.js';
import { errorText } from '../../core/errors.js';
import { createBackoff } from '../../core/backoff.js';

export interface OpcuaConfig {
  /** opc.tcp://host:port/path */
  url: string;
  securityMode: 'None' | 'Sign' | 'SignAndEncrypt';
  /** a SecurityPolicy name: Basic256Sha256 (default with Sign or SignAndEncrypt), Aes128_Sha256_RsaOaep, … */
  securityPolicy?: string;
  certificateFile?: string;
  privateKeyFile?: string;
  /** ms for a connection and each request */
  timeout?: number;
}

export interface OpcuaProperty {
  name: string;
  nodeId: string;
  subscribe: boolean;
  /** ms between polls, or the sampling interval of a monitored item */
  cycleMs: number;
}

export interface OpcuaEvents {
  value(property: string, value: string): void;
  /** online, or offline with why (the server's status code or the socket's error), and a reason for the device's condition */
  state(state: 'online' | 'offline', why?: string, reason?: 'ServerUnreachable' | 'CertificateRefused'): void;
}

function valueText(dv: DataValue): string | undefined {
  if (!dv.statusCode.isGood()) return undefined;
  const v: unknown = dv.value?.value;
  if (v === null || v === undefined) return undefined;
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

/** a desired value (a twin's string) as the variable's data type takes it */
function variantOf(dataType: DataType, value: string): { dataType: DataType; value: unknown } {
  if (dataType === DataType.Boolean) return { dataType, value: value === 'true' || value === '1' };
  if (dataType === DataType.String) return { dataType, value };
  const n = Number(value);
  if (!Number.isFinite(n)) throw new Error(`${JSON.stringify(value)} is not a number, as the variable's ${DataType[dataType]} needs`);
  return { dataType, value: n };
}

export class OpcuaDevice {
  private client: OPCUAClient | undefined;
  private session: ClientSession | undefined;
  private subscription: ClientSubscription | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly dataTypes = new Map<string, DataType>();
  private readonly backoff = createBackoff(1000, 30_000);
  private stopped = false;
  private gen = 0;

  constructor(
    private readonly cfg: OpcuaConfig,
    private readonly props: readonly OpcuaProperty[],
    private readonly pkiDir: string,
    private readonly events: OpcuaEvents,
    private readonly log: Logger,
  ) {}

  start(): void {
    void this.connect();
  }

  private later(fn: () => void, ms: number): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopped) fn();
    }, ms);
    this.timers.add(t);
  }

  private makeClient(): OPCUAClient {
    mkdirSync(this.pkiDir, { recursive: true });
    const secure = this.cfg.securityMode !== 'None';
    return OPCUAClient.create({
      applicationName: 'kubeedge-lite-mapper-opcua',
      endpointMustExist: false,
      securityMode: MessageSecurityMode[this.cfg.securityMode],
      securityPolicy: secure ? ((SecurityPolicy as unknown as Record<string, SecurityPolicy>)[this.cfg.securityPolicy ?? 'Basic256Sha256'] ?? SecurityPolicy.Basic256Sha256) : SecurityPolicy.None,
      ...(this.cfg.certificateFile ? { certificateFile: this.cfg.certificateFile } : {}),
      ...(this.cfg.privateKeyFile ? { privateKeyFile: this.cfg.privateKeyFile } : {}),
      clientCertificateManager: new OPCUACertificateManager({ rootFolder: this.pkiDir, automaticallyAcceptUnknownCertificate: true }),
      connectionStrategy: { maxRetry: 0, initialDelay: 500, maxDelay: 1000 }, // our own back-off, one connection at a time
      requestedSessionTimeout: 60_000,
      defaultTransactionTimeout: this.cfg.timeout ?? 10_000,
      keepSessionAlive: true,
    });
  }

  private async connect(): Promise<void> {
    const gen = ++this.gen;
    const client = this.makeClient();
    this.client = client;
    try {
      await client.connect(this.cfg.url);
      client.on('connection_lost', () => void this.lost(gen, 'the connection to the server was lost'));
      client.on('close', () => void this.lost(gen, 'the server closed the connection'));
      this.session = await client.createSession();
      await this.readDataTypes();
      this.backoff.reset();
      this.events.state('online');
      this.log.info(`connected to ${this.cfg.url} (${this.cfg.securityMode})`);
      await this.watch(gen);
    } catch (err) {
      await this.lost(gen, ...this.explain(errorText(err)));
    }
  }

  /**
   * node-opcua's client reports a secure channel the server refused as a dropped socket; the
   * server's BadSecurityChecksFailed is not passed on. On a secured connection that is, most
   * likely, a client certificate the server does not trust: say so, and how to fix it.
   */
  private explain(message: string): [string, 'ServerUnreachable' | 'CertificateRefused'] {
    if (this.cfg.securityMode === 'None' || !/rejected by server|disconnected by third party|BadSecurityChecksFailed|BadCertificate/i.test(message)) return [message, 'ServerUnreachable'];
    const cert = this.cfg.certificateFile ?? `the certificate made in ${this.pkiDir}`;
    return [`the server refused the ${this.cfg.securityMode} secure channel: it does not trust the client certificate ${cert}; add it to the server's trusted certificates (${message.replace(/\s+/g, ' ')})`, 'CertificateRefused'];
  }

  /** tears the connection down (nothing left on the server) and tries again after a back-off */
  private async lost(gen: number, why: string, reason: 'ServerUnreachable' | 'CertificateRefused' = 'ServerUnreachable'): Promise<void> {
    if (gen !== this.gen || this.stopped) return;
    this.gen++;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await this.teardown();
    const delay = this.backoff.next();
    this.events.state('offline', why, reason);
    this.log.warn(`${this.cfg.url}: ${why}; connecting again in ${delay} ms`);
    this.later(() => void this.connect(), delay);
  }

  private async teardown(): Promise<void> {
    const { client, session, subscription } = this;
    this.client = this.session = this.subscription = undefined;
    await subscription?.terminate().catch(() => undefined);
    await session?.close().catch(() => undefined);
    await client?.disconnect().catch(() => undefined);
  }

  private async readDataTypes(): Promise<void> {
    const s = this.session as ClientSession;
    const dvs = await s.read(this.props.map((p) => ({ nodeId: p.nodeId, attributeId: AttributeIds.Value })));
    dvs.forEach((dv, i) => {
      const p = this.props[i] as OpcuaProperty;
      if (dv.statusCode.isGood() && dv.value) this.dataTypes.set(p.name, dv.value.dataType);
      else this.log.warn(`${p.name}: ${p.nodeId} cannot be read: ${dv.statusCode.name}`);
    });
  }

  private async watch(gen: number): Promise<void> {
    const session = this.session as ClientSession;
    const subscribed = this.props.filter((p) => p.subscribe);
    if (subscribed.length > 0) {
      const interval = Math.min(...subscribed.map((p) => p.cycleMs));
      this.subscription = ClientSubscription.create(session, { requestedPublishingInterval: interval, requestedLifetimeCount: 600, requestedMaxKeepAliveCount: 20, publishingEnabled: true, priority: 1 });
      for (const p of subscribed) {
        const item = ClientMonitoredItem.create(this.subscription, { nodeId: p.nodeId, attributeId: AttributeIds.Value }, { samplingInterval: p.cycleMs, discardOldest: true, queueSize: 1 }, TimestampsToReturn.Both);
        item.on('changed', (dv: DataValue) => this.took(p, dv));
      }
    }
    for (const p of this.props.filter((x) => !x.subscribe)) this.poll(p, gen);
  }

  private poll(p: OpcuaProperty, gen: number): void {
    const s = this.session;
    if (!s || gen !== this.gen) return;
    s.read({ nodeId: p.nodeId, attributeId: AttributeIds.Value }).then(
      (dv) => {
        this.took(p, dv);
        this.later(() => this.poll(p, gen), p.cycleMs);
      },
      (err: unknown) => void this.lost(gen, `reading ${p.name}: ${errorText(err)}`),
    );
  }

  private took(p: OpcuaProperty, dv: DataValue): void {
    const v = valueText(dv);
    if (dv.value && dv.statusCode.isGood()) this.dataTypes.set(p.name, dv.value.dataType);
    if (v !== undefined) this.events.value(p.name, v);
    else this.log.debug(`${p.name}: ${dv.statusCode.name}`);
  }

  /** writes a desired value; resolves with the server's status code name (Good, or why not) */
  async write(property: string, value: string): Promise<string> {
    const p = this.props.find((x) => x.name === property);
    const s = this.session;
    if (!p) throw new Error(`no property ${property}`);
    if (!s) throw new Error(`not connected to ${this.cfg.url}`);
    const dataType = this.dataTypes.get(property) ?? DataType.Double;
    const status = await s.write({ nodeId: p.nodeId, attributeId: AttributeIds.Value, value: { value: variantOf(dataType, value) } });
    return status.name;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.gen++;
    for (const t of this.timers) clearTimeout(t);
    await this.teardown();
  }
}
