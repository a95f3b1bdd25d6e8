// The x264 preset from the browser: the program's settings dialog has a labelled 44 px select
// (auto, or a preset by hand) explaining what auto does; a started program with auto shows, in
// its Output card, the preset measured at its own size with the speed measured here, the same
// figure the API reports; a preset set by hand is shown as such. Screenshots at 1440x900 and
// 390x844 in out/screens/ (preset-*), axe-core on the open dialog.
// The destination is an RTMP port where nothing listens: the encoder runs, the output retries.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { atPath, launchBrowser, newPage, OUT_DIR, startAppliance, startFakeCamera, visible } from '../lib/harness.mjs';

const ADMIN = 'admin';
const PASSWORD = 'preset-probe-42';
const SCREENS = join(OUT_DIR, 'screens');
mkdirSync(SCREENS, { recursive: true });
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
const SIZES = [
  ['1440x900', { width: 1440, height: 900 }],
  ['390x844', { width: 390, height: 844 }],
];

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

async function until(fn, timeout, what) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function seriousAxeViolations(page) {
  if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) await page.addScriptTag({ path: AXE });
  const all = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
  return all.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** Screenshots of the page at both sizes, back to the desktop size after; on the phone,
 * `target` (if given) is a 44 px touch target, as the app's phone styles make every control. */
async function shots(page, name, target) {
  for (const [size, viewport] of SIZES) {
    await page.setViewportSize(viewport);
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(SCREENS, `${name}-${size}.png`), fullPage: true });
    if (target && viewport.width < 768) {
      const box = await target.boundingBox();
      assert.ok(box.height >= 43.5 && box.width >= 43.5, `${name} ${size}: ${box.width}×${box.height} px`);
    }
  }
  await page.setViewportSize(SIZES[0][1]);
}

describe('x264 preset', () => {
  let cam;
  let app;
  let browser;
  let page;
  let programId;
  let cameraId;
  let destId;

  before(async () => {
    cam = await startFakeCamera('Quay', { path: '/quay', width: 320, height: 180, fps: 15 });
    app = await startAppliance('preset', { extraArgs: ['--bcrypt-cost', '10'] });
    browser = await launchBrowser();
    page = await newPage(browser, app.url);
    await page.setViewportSize(SIZES[0][1]);
    await page.goto('/setup');
    await page.getByLabel('Username').fill(ADMIN);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByLabel('Confirm password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await atPath(page, '/');
    const port = await deadPort();
    destId = (
      await api(page, 'POST', '/api/destinations', {
        name: 'Local ingest',
        platform: 'custom',
        url: `rtmp://127.0.0.1:${port}/live2`,
        stream_key: 'preset-key',
      })
    ).id;
    cameraId = (await api(page, 'POST', '/api/cameras', { name: 'Quay', type: 'STATIC', protocol: 'RTSP', address: cam.url })).id;
    programId = (
      await api(page, 'POST', '/api/programs', { name: 'Main', width: 320, height: 180, fps: 15, destination_ids: [destId] })
    ).id;
  });

  after(async () => {
    try {
      await page?.request.post(`/api/programs/${programId}/stop`);
    } catch {
      /* the appliance is gone already */
    }
    await browser?.close();
    await app?.stop();
    await cam?.stop();
  });

  it('offers auto in the settings, then shows what auto measured and chose', async () => {
    await page.goto('/program');
    await page.getByRole('button', { name: 'Edit Main' }).click();
    const dialog = await visible(page.getByRole('dialog', { name: 'Edit “Main”' }));
    const select = dialog.getByLabel('x264 preset');
    assert.equal(await select.inputValue(), 'auto');
    const options = await select.locator('option').evaluateAll((os) => os.map((o) => o.value));
    assert.deepEqual(options, ['auto', 'ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium']);
    await visible(dialog.getByText('Measured here when the program starts'));
    const violations = await seriousAxeViolations(page);
    assert.deepEqual(violations, [], JSON.stringify(violations));
    await shots(page, 'preset-dialog', select);
    await dialog.getByRole('button', { name: 'Cancel' }).click();

    await api(page, 'POST', `/api/programs/${programId}/start`);
    await api(page, 'POST', `/api/programs/${programId}/take`, { camera_id: cameraId });
    const view = await api(page, 'GET', `/api/programs/${programId}`);
    const ep = view.encoder_preset;
    console.log(`encoder_preset: ${JSON.stringify(ep)}`);
    assert.ok(['veryfast', 'superfast', 'ultrafast'].includes(ep.resolved), JSON.stringify(ep));
    assert.ok(ep.speed > 0, JSON.stringify(ep));
    const line = (await visible(page.getByTestId('encoder-preset'), 30_000)).locator('dd');
    const expected = `auto → ${ep.resolved} (${ep.speed.toFixed(1)}× real time at 320x180 on this appliance`;
    await until(async () => (await line.textContent()).includes(expected), 15_000, `"${expected}" in the Output card`);
    await shots(page, 'preset-program');
    const encoders = await api(page, 'GET', '/api/system/encoders');
    assert.equal(encoders.presets.length, 1, JSON.stringify(encoders.presets));
    assert.equal(encoders.presets[0].selected, ep.resolved);
  });

  it('takes a preset set by hand and says so', async () => {
    await api(page, 'POST', `/api/programs/${programId}/stop`);
    await page.goto('/program');
    await page.getByRole('button', { name: 'Edit Main' }).click();
    const dialog = await visible(page.getByRole('dialog', { name: 'Edit “Main”' }));
    await visible(dialog.getByText(/^Last start: auto → /));
    await shots(page, 'preset-dialog-after-start', dialog.getByLabel('x264 preset'));
    await dialog.getByLabel('x264 preset').selectOption('faster');
    await visible(dialog.getByText('Used as set.'));
    await dialog.getByRole('button', { name: 'Save program' }).click();
    await dialog.waitFor({ state: 'detached' });
    const saved = await api(page, 'GET', `/api/programs/${programId}`);
    assert.equal(saved.encoder_preset.setting, 'faster');
    await api(page, 'POST', `/api/programs/${programId}/start`);
    const line = (await visible(page.getByTestId('encoder-preset'), 30_000)).locator('dd');
    let text = '';
    await until(
      async () => (text = await line.textContent()) === 'faster, set by hand',
      15_000,
      'the preset set by hand',
    ).catch((e) => {
      throw new Error(`${e.message}: "${text}"`);
    });
    const view = await api(page, 'GET', `/api/programs/${programId}`);
    assert.equal(view.encoder_preset.resolved, 'faster');
    assert.deepEqual(page.consoleErrors, []);
  });
});
