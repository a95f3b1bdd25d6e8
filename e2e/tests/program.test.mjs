// The program feed from the browser: settings, start, takes between two fake cameras (the on-air
// highlight follows), stop; and a VistterStudio timeline import on the Timelines page.
// The destination is an RTMP port where nothing listens: the encoder runs, the output retries.

import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { atPath, E2E_DIR, OUT_DIR, launchBrowser, newPage, shot, startAppliance, startFakeCamera, visible } from '../lib/harness.mjs';

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

  it('creates text, clock and image overlays', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Overlays' }).click();
    await atPath(page, '/overlays');
    await visible(page.getByText('No overlays yet'));
    await page.getByRole('button', { name: 'New overlay' }).first().click();
    let dialog = await visible(page.getByRole('dialog', { name: 'New overlay' }));
    await dialog.getByLabel('Name').fill('Caption');
    await dialog.getByLabel('Text', { exact: true }).fill('Live from the pier');
    await dialog.getByLabel('Colour (#RRGGBB)').fill('not-a-colour');
    await dialog.getByRole('button', { name: 'Create overlay' }).click();
    await visible(dialog.locator('#overlay-color-error'));
    await dialog.getByLabel('Colour (#RRGGBB)').fill('#ffffff');
    await dialog.getByRole('button', { name: 'Create overlay' }).click();
    await visible(page.getByTestId('overlay-row').filter({ hasText: 'Caption' }));

    await page.getByRole('button', { name: 'New overlay' }).first().click();
    dialog = await visible(page.getByRole('dialog', { name: 'New overlay' }));
    await dialog.getByLabel('Name').fill('Clock');
    await dialog.getByLabel('Kind').selectOption('clock');
    await dialog.getByLabel('Time zone').fill('Europe/Paris');
    await dialog.getByLabel('X', { exact: true }).fill('1500');
    await dialog.getByRole('button', { name: 'Create overlay' }).click();
    await visible(page.getByTestId('overlay-row').filter({ hasText: 'Europe/Paris' }));

    const png = join(OUT_DIR, 'logo.png');
    writeFileSync(png, Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64'));
    await page.getByRole('button', { name: 'New overlay' }).first().click();
    dialog = await visible(page.getByRole('dialog', { name: 'New overlay' }));
    await dialog.getByLabel('Name').fill('Logo');
    await dialog.getByLabel('Kind').selectOption('image');
    await dialog.getByLabel('Image file (PNG, JPEG or SVG)').setInputFiles(png);
    await visible(dialog.getByRole('img', { name: 'Image logo.png' }));
    await shot(page, 'overlay-form-image');
    await dialog.getByRole('button', { name: 'Create overlay' }).click();
    await visible(page.getByTestId('overlay-row').filter({ hasText: 'Logo' }));
    await shot(page, 'overlays');
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
    // Overlays are switched live.
    await page.getByLabel('Caption').check();
    await until(async () => {
      const [p] = await api(page, 'GET', '/api/programs');
      return p.overlays.some((o) => o.visible);
    }, 10_000, 'the caption visible');
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

  it('edits a timeline: adds an overlay clip, drags it, and shows validation errors by path', async () => {
    await page.getByRole('button', { name: 'Edit Timeline Test' }).click();
    const editor = await visible(page.getByTestId('timeline-editor'));
    await editor.getByRole('button', { name: 'Add overlay track' }).click();
    await editor.getByRole('button', { name: 'Add clip' }).click();
    let dialog = await visible(page.getByRole('dialog', { name: 'Add clip' }));
    await dialog.getByLabel('Track').selectOption('1');
    await dialog.getByLabel('Shows').selectOption('overlay');
    await dialog.getByLabel('Overlay').selectOption({ label: 'Caption' });
    await dialog.getByLabel('Start (s)').fill('10');
    await dialog.getByLabel('End (s)').fill('20');
    await dialog.getByRole('button', { name: 'Add clip' }).click();
    const clip = await visible(editor.getByTestId('timeline-clip').filter({ hasText: 'Caption' }));
    assert.match(await clip.innerText(), /0:10–0:20/);

    // Drag right by a sixth of the lane: 10 s on a 60 s timeline.
    const box = await clip.boundingBox();
    const lane = await clip.evaluate((el) => el.parentElement.getBoundingClientRect().width);
    await page.mouse.move(box.x + 5, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + 5 + lane / 12, box.y + box.height / 2, { steps: 5 });
    await page.mouse.move(box.x + 5 + lane / 6, box.y + box.height / 2, { steps: 5 });
    await page.mouse.up();
    const moved = await clip.innerText();
    const m = /0:(\d\d(?:\.\d)?)–0:(\d\d(?:\.\d)?)/.exec(moved);
    assert.ok(m, moved);
    assert.ok(Math.abs(Number(m[1]) - 20) <= 0.5, `moved to ${m[1]}`);
    assert.ok(Math.abs(Number(m[2]) - Number(m[1]) - 10) < 0.01, 'same length');
    await editor.getByRole('button', { name: 'Save' }).click();
    await visible(editor.getByText('Saved.'));
    const [tl] = await api(page, 'GET', '/api/timelines');
    const saved = tl.tracks[1].clips[0];
    assert.equal(saved.end_ms - saved.start_ms, 10_000);
    assert.equal(saved.start_ms % 100, 0, 'snapped to 100 ms');

    // An end past the timeline's duration: refused, the error names the clip's path.
    await clip.click();
    dialog = await visible(page.getByRole('dialog', { name: 'Edit clip' }));
    await dialog.getByLabel('End (s)').fill('75');
    await dialog.getByRole('button', { name: 'Apply' }).click();
    await editor.getByRole('button', { name: 'Save' }).click();
    const errors = await visible(editor.getByTestId('timeline-errors'));
    assert.match(await errors.innerText(), /tracks\[1\]\.clips\[0\]/);
    await shot(page, 'timeline-editor-error');
  });
});
