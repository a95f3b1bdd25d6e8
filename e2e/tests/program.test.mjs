// The program feed from the browser: settings, start, takes between two fake cameras (the on-air
// highlight follows), stop; and a VistterStudio timeline import on the Timelines page.
// The destination is an RTMP port where nothing listens: the encoder runs, the output retries.

import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { atPath, E2E_DIR, launchBrowser, newPage, shot, startAppliance, startFakeCamera, visible } from '../lib/harness.mjs';

const ADMIN = 'admin';
const PASSWORD = 'program-feed-42';
const FIXTURE = resolve(E2E_DIR, '../../shared/fixtures/vistterstudio/test-timeline.json');

function deadPort() {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolvePort(port));
    });
  });
}

async function api(page, method, path, data) {
  const res = await page.request.fetch(path, { method, data });
  assert.ok(res.ok(), `${method} ${path} → ${res.status()} ${await res.text()}`);
  return res.status() === 204 ? null : res.json();
}

/** Waits until `fn` returns a truthy value. */
async function until(fn, timeout = 30_000, what = 'condition') {
  const deadline = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('program and timelines', () => {
  let camA;
  let camB;
  let app;
  let browser;
  let page;

  before(async () => {
    camA = await startFakeCamera('Pier', { path: '/pier' });
    camB = await startFakeCamera('Beach', { path: '/beach' });
    app = await startAppliance('program', { extraArgs: ['--health-interval-s', '2', '--bcrypt-cost', '10'] });
    browser = await launchBrowser();
    page = await newPage(browser, app.url);
    await page.goto('/setup');
    await page.getByLabel('Username').fill(ADMIN);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByLabel('Confirm password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await atPath(page, '/');
    const port = await deadPort();
    await api(page, 'POST', '/api/destinations', {
      name: 'Local ingest',
      platform: 'custom',
      url: `rtmp://127.0.0.1:${port}/live2`,
      stream_key: 'program-key',
    });
    for (const [name, cam] of [['Pier', camA], ['Beach', camB]]) {
      await api(page, 'POST', '/api/cameras', { name, type: 'STATIC', protocol: 'RTSP', address: cam.url });
    }
  });

  after(async () => {
    try {
      const res = await page?.request.get('/api/programs');
      for (const p of res?.ok() ? await res.json() : []) await page.request.post(`/api/programs/${p.id}/stop`);
    } catch {
      /* the appliance is gone already */
    }
    await browser?.close();
    await app?.stop();
    await camA?.stop();
    await camB?.stop();
  });

  it('creates a program, starts it, takes two cameras and stops it', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Program' }).click();
    await atPath(page, '/program');
    await visible(page.getByText('No program yet'));
    await page.getByRole('button', { name: 'Create your first program' }).click();
    const dialog = await visible(page.getByRole('dialog', { name: 'New program' }));
    await dialog.getByLabel('Name').fill('Main program');
    await dialog.getByLabel('Size').selectOption('custom');
    await dialog.getByLabel('Width').fill('640');
    await dialog.getByLabel('Height').fill('360');
    await dialog.getByLabel('Frame rate').selectOption('25');
    await dialog.getByLabel('Local ingest').check();
    await shot(page, 'program-form');
    await dialog.getByRole('button', { name: 'Create program' }).click();
    const row = await visible(page.getByTestId('program-row').filter({ hasText: 'Main program' }));
    assert.match(await row.innerText(), /640×360 · 25 fps/);

    await row.getByRole('button', { name: 'Start' }).click();
    await visible(row.getByText('LIVE'), 30_000);

    const card = (name) => page.getByTestId('take-card').filter({ has: page.getByRole('button', { name: `Take ${name}` }) });
    await page.getByRole('button', { name: 'Take Pier' }).click();
    await until(async () => (await card('Pier').getAttribute('data-on-air')) === 'true', 30_000, 'Pier on air');
    assert.equal(await card('Beach').getAttribute('data-on-air'), 'false');
    await visible(page.getByRole('img', { name: 'On air: Pier' }), 30_000);
    // The live status flows: the output names its destination, the ingest its camera.
    await visible(page.getByTestId('program-output').filter({ hasText: 'Local ingest' }));
    await visible(page.getByTestId('program-ingest').filter({ hasText: 'Pier' }));
    await shot(page, 'program-pier-on-air');

    await page.getByRole('button', { name: 'Take Beach' }).click();
    await until(async () => (await card('Beach').getAttribute('data-on-air')) === 'true', 30_000, 'Beach on air');
    assert.equal(await card('Pier').getAttribute('data-on-air'), 'false');
    await new Promise((r) => setTimeout(r, 3500));
    await shot(page, 'program-beach-on-air');

    await row.getByRole('button', { name: 'Stop' }).click();
    await visible(row.getByText('stopped'), 30_000);
    assert.deepEqual(page.consoleErrors, []);
  });

  it('imports a VistterStudio timeline and lists it', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Timelines' }).click();
    await atPath(page, '/timelines');
    await page.getByLabel('Import a VistterStudio file').setInputFiles(FIXTURE);
    const report = await visible(page.getByTestId('import-report'), 30_000);
    assert.match(await report.innerText(), /Timeline Test/);
    assert.match(await report.innerText(), /test\.example\.com/);
    await visible(page.getByTestId('timeline-row').filter({ hasText: 'Timeline Test' }));
    await shot(page, 'timelines-imported');
  });
});
