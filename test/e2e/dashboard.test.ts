/**
 * The dashboard in a real browser: Debian's chromium, headless, driven by playwright-core, against
 * a real cloudcore, an edge and the quick start's simulated Modbus thermostat. Screenshots go to
 * .tmp/reports/dashboard/ beside the test reports.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { makeCluster, eventually, readyOf, type Cluster, type Edge } from './cluster.js';
import { ROOT } from '../peers/proc.js';
import { freePort } from '../peers/proxy.js';
import { startThermostat, type Thermostat } from '../../drivers/modbus/simulator.js';
import { thermostatManifests } from '../../keadm/quickstart.js';

const SHOTS = join(ROOT, '.tmp', 'reports', 'dashboard');
const NODE = 'edge-ui';

describe('the dashboard, in chromium', () => {
  let c: Cluster;
  let edge: Edge;
  let thermostat: Thermostat;
  let browser: Browser;
  let url: string;
  const keadm = (args: string[]) => spawnSync(process.execPath, [join(ROOT, 'dist', 'keadm.js'), ...args, '--config-dir', c.dir], { encoding: 'utf8' });
  const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  const signIn = async (page: Page, token: string): Promise<void> => {
    await page.goto(url);
    await page.fill('#token', token);
    await page.click('#signin button[type=submit]');
  };
  const nodeCard = (page: Page) => page.locator(`#nodes article[data-key="${NODE}"]`);
  const deviceCard = (page: Page) => page.locator('#devices article[data-key="default/thermostat-1"]');

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    c = await makeCluster({ keepaliveInterval: 2 });
    await c.startCloud();
    edge = await c.startEdge(NODE, { heartbeat: 1 });
    await eventually(async () => readyOf((await c.api.call('GET', `/api/v1/nodes/${NODE}`)).body) === 'True', 15_000, 'Ready');
    thermostat = await startThermostat({ port: await freePort() });
    const manifest = join(c.dir, 'thermostat.yaml');
    writeFileSync(manifest, thermostatManifests(thermostat.port, NODE));
    const applied = keadm(['apply', '-f', manifest]);
    expect(applied.status, applied.stderr).toBe(0);
    url = `https://127.0.0.1:${c.apiPort}/ui/`;
    // the cloud's certificate is from the test's own CA, which this browser does not know: TLS is real, its issuer unchecked
    // no background networking: this machine has no internet, and chromium's attempts would be refused
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  });
  afterAll(async () => {
    await browser?.close();
    await thermostat?.close();
    await c?.stop();
  });

  it('refuses a wrong token and says so', async () => {
    const page = await (await browser.newContext({ ignoreHTTPSErrors: true })).newPage();
    await signIn(page, 'not-the-token');
    await expect.poll(() => page.textContent('#signin-error')).toMatch(/token refused: .*Bearer <token>/);
    expect(await page.isVisible('#board')).toBe(false);
    await shot(page, '1-wrong-token');
    await page.context().close();
  });

  it('shows the node Ready and the thermostat\'s temperature, and sets a setpoint that comes back reported without a reload', async () => {
    const page = await (await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 900 } })).newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    await signIn(page, 'test-admin-token');
    await expect.poll(() => nodeCard(page).locator('.badge').textContent(), { timeout: 15_000 }).toBe('Ready');
    await expect.poll(() => page.textContent('#status')).toBe('live · admin');
    const temperature = deviceCard(page).locator('td.reported[data-property=temperature]');
    await expect.poll(() => temperature.textContent(), { timeout: 20_000 }).toMatch(/^\d+(\.\d+)?$/);
    await expect.poll(() => deviceCard(page).locator('td.reported[data-property=setpoint]').textContent(), { timeout: 20_000 }).toBe('21');
    // the edge's own figures, from its keepalives
    await expect.poll(async () => (await nodeCard(page).textContent()) ?? '', { timeout: 10_000 }).toMatch(/round trip[\d.]+ ms/);
    await shot(page, '2-signed-in');

    // the temperature moves on its own: pushed, not polled (the page never navigated again)
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));
    const first = await temperature.textContent();
    await expect.poll(() => temperature.textContent(), { timeout: 20_000 }).not.toBe(first);

    // only what the DeviceModel says is ReadWrite can be set
    expect(await deviceCard(page).locator('input').evaluateAll((inputs) => inputs.map((i) => (i as HTMLInputElement).name))).toEqual(['desired-setpoint']);
    await deviceCard(page).locator('input[name=desired-setpoint]').fill('25');
    await deviceCard(page).locator('tr:has(input[name=desired-setpoint])').getByRole('button', { name: 'Set' }).click();
    await expect.poll(() => deviceCard(page).locator('td.reported[data-property=setpoint]').textContent(), { timeout: 20_000 }).toBe('25');
    expect(thermostat.setpoint()).toBe(25);
    expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(42);
    // and the cloud has it, as keadm shows it
    const dev = JSON.parse(keadm(['get', 'devices', 'thermostat-1', '-o', 'json']).stdout);
    expect(dev.spec.properties.find((p: { name: string }) => p.name === 'setpoint').desired.value).toBe('25');
    // a manifest the API refuses is in the feed, with why
    const bad = join(c.dir, 'bad.yaml');
    writeFileSync(bad, 'apiVersion: devices.kubeedge.io/v1beta1\nkind: Device\nmetadata: {name: broken}\nspec: {nodeName: edge-ui}\n');
    expect(keadm(['apply', '-f', bad]).status).not.toBe(0);
    await expect.poll(() => page.textContent('#events'), { timeout: 5000 }).toMatch(/Refused Device\/default\/broken: .*deviceModelRef/);
    await shot(page, '3-setpoint-25');
    expect(errors, errors.join('\n')).toEqual([]);
    await page.context().close();
  });

  it('works at a phone\'s width with a read-only token, which sees everything and can set nothing, and sees the node go NotReady when the edge is killed', async () => {
    const ro = keadm(['gettoken', '--read-only', '--ttl', '1h']).stdout.trim();
    const page = await (await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 })).newPage();
    await signIn(page, ro);
    await expect.poll(() => nodeCard(page).locator('.badge').textContent(), { timeout: 15_000 }).toBe('Ready');
    await expect.poll(() => page.textContent('#status')).toBe('live · read-only');
    await expect.poll(() => deviceCard(page).locator('td.reported[data-property=setpoint]').textContent(), { timeout: 20_000 }).toBe('25');
    expect(await deviceCard(page).locator('input').count()).toBe(0);
    // nothing wider than the phone: no sideways scrolling
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await shot(page, '4-phone-read-only');

    await edge.proc.kill('SIGKILL');
    await expect.poll(() => nodeCard(page).locator('.badge').textContent(), { timeout: 10_000 }).toBe('NotReady');
    await expect.poll(() => page.textContent('#events'), { timeout: 5000 }).toMatch(/NodeNotReady Node\/edge-ui: node edge-ui is NotReady/);
    // the thermostat's last state is the edge's word from before: shown as such
    await expect.poll(() => deviceCard(page).locator('.badge').textContent()).toBe('online? node NotReady');
    await shot(page, '5-phone-edge-killed');
    await page.context().close();
  });
});
