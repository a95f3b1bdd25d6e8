// The program feed from the browser: settings, start, takes between two fake cameras (the on-air
// highlight follows), the Preview / Program panes (the program's own output really plays in
// the browser at the program's size), stop; and a VistterStudio timeline import on the
// Timelines page.
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
// The program's output size: not the cameras' (640×360), so the Program pane's picture is
// known to be the program's output and not a camera's.
const PROGRAM_WIDTH = 512;
const PROGRAM_HEIGHT = 288;

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
    await dialog.getByLabel('Width').fill(String(PROGRAM_WIDTH));
    await dialog.getByLabel('Height').fill(String(PROGRAM_HEIGHT));
    await dialog.getByLabel('Frame rate').selectOption('25');
    await dialog.getByLabel('Local ingest').check();
    await shot(page, 'program-form');
    await dialog.getByRole('button', { name: 'Create program' }).click();
    const row = await visible(page.getByTestId('program-row').filter({ hasText: 'Main program' }));
    assert.match(await row.innerText(), new RegExp(`${PROGRAM_WIDTH}×${PROGRAM_HEIGHT} · 25 fps`));
    // The size the program's output must have, as the appliance stored it.
    const [program] = await api(page, 'GET', '/api/programs');
    assert.deepEqual([program.width, program.height], [PROGRAM_WIDTH, PROGRAM_HEIGHT]);

    // Stopped: the Program pane says so; Preview shows a camera and follows the Preview buttons.
    const programPane = page.getByTestId('program-live');
    const previewPane = page.getByTestId('preview-live');
    const card = (name) => page.getByTestId('take-card').filter({ has: page.getByRole('button', { name: `Take ${name}` }) });
    await visible(programPane.getByText('The program is stopped'));
    await page.getByRole('button', { name: 'Preview Beach' }).click();
    await until(async () => (await previewPane.getByTestId('preview-camera').textContent()) === 'Beach', 15_000, 'Beach in Preview');
    assert.equal(await card('Beach').getAttribute('data-preview'), 'true');
    assert.equal(await card('Pier').getAttribute('data-preview'), 'false');
    await visible(previewPane.getByTestId('live-video'));

    await row.getByRole('button', { name: 'Start' }).click();
    await visible(row.getByText('LIVE'), 30_000);

    await page.getByRole('button', { name: 'Take Pier' }).click();
    await until(async () => (await card('Pier').getAttribute('data-on-air')) === 'true', 30_000, 'Pier on air');
    assert.equal(await card('Beach').getAttribute('data-on-air'), 'false');
    await visible(programPane.getByText('On air · Pier'), 30_000);
    // A cut: Beach was in Preview and stays there; taking it sends Pier, leaving the air, to Preview.
    assert.equal(await previewPane.getByTestId('preview-camera').textContent(), 'Beach');

    // The Program pane plays the program's own output (fragmented MP4 over WebSocket + MSE):
    // time advances and the picture has the program's size.
    const video = await visible(programPane.getByTestId('program-video'), 30_000);
    await page.waitForFunction(
      () => {
        const v = document.querySelector('[data-testid="program-live"] [data-testid="program-video"]');
        return v && v.readyState >= 2 && v.currentTime > 0;
      },
      null,
      { timeout: 60_000 },
    );
    const t0 = await video.evaluate((v) => v.currentTime);
    await page.waitForTimeout(2_000);
    const t1 = await until(async () => {
      const t = await video.evaluate((v) => v.currentTime);
      return t > t0 ? t : null;
    }, 30_000, 'the program video to advance');
    assert.ok(t1 > t0, `currentTime advanced from ${t0} to ${t1}`);
    const size = await video.evaluate((v) => [v.videoWidth, v.videoHeight]);
    assert.deepEqual(size, [program.width, program.height]);
    const stats = await api(page, 'GET', `/api/programs/${program.id}/live/stats`);
    assert.equal(stats.program_id, program.id, JSON.stringify(stats));
    assert.ok(stats.viewers >= 1, JSON.stringify(stats));
    assert.equal(stats.online, true, JSON.stringify(stats));
    // The live status flows: the output names its destination, the ingest its camera.
    await visible(page.getByTestId('program-output').filter({ hasText: 'Local ingest' }));
    await visible(page.getByTestId('program-ingest').filter({ hasText: 'Pier' }));
    await shot(page, 'program-pier-on-air');

    await page.getByRole('button', { name: 'Take Beach' }).click();
    await until(async () => (await card('Beach').getAttribute('data-on-air')) === 'true', 30_000, 'Beach on air');
    assert.equal(await card('Pier').getAttribute('data-on-air'), 'false');
    await visible(programPane.getByText('On air · Beach'), 30_000);
    assert.equal(await previewPane.getByTestId('preview-camera').textContent(), 'Pier');
    // Overlays are switched live.
    await page.getByLabel('Caption').check();
    await until(async () => {
      const [p] = await api(page, 'GET', '/api/programs');
      return p.overlays.some((o) => o.visible);
    }, 10_000, 'the caption visible');
    await new Promise((r) => setTimeout(r, 3500));
    await shot(page, 'program-beach-on-air');

    // The slate on demand (a break): no camera on air, the badge says so; a take comes back.
    await page.getByRole('button', { name: 'Cut to the slate' }).click();
    await visible(programPane.getByText('Slate', { exact: true }), 30_000);
    await until(async () => (await card('Beach').getAttribute('data-on-air')) === 'false', 30_000, 'Beach off air');
    await page.getByRole('button', { name: 'Take Beach' }).click();
    await visible(programPane.getByText('On air · Beach'), 30_000);

    await row.getByRole('button', { name: 'Stop' }).click();
    const confirm = await visible(page.getByRole('dialog', { name: 'Stop the program?' }));
    await confirm.getByRole('button', { name: 'Stop program' }).click();
    await visible(row.getByText('stopped'), 30_000);
    // The Program pane shows the stopped state; its player is gone.
    await visible(programPane.getByText('The program is stopped'), 30_000);
    await programPane.getByTestId('program-video').waitFor({ state: 'detached', timeout: 30_000 });
    assert.equal(await programPane.getAttribute('data-running'), 'false');
    assert.deepEqual(page.consoleErrors, []);
  });

  it('imports a VistterStudio timeline and lists it', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Timelines' }).click();
    await atPath(page, '/timelines');
    await page.getByLabel('Import a VistterStudio file').setInputFiles(FIXTURE);
    // The file's camera is not configured: the plan shows it before anything is written.
    const plan = await visible(page.getByRole('dialog', { name: /^Import/ }), 30_000);
    assert.match(await plan.getByTestId('plan-address').innerText(), /test\.example\.com/);
    await plan.getByRole('button', { name: 'Import', exact: true }).click();
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
