// The pre-roll choice on the Program page: the two options (instant takes, economy) render as
// 44 px radio targets with what each costs on this appliance as the running program measures it
// ("not measured yet" until then), and choosing economy changes the running program live (its
// off-air camera stops being decoded). Screenshots of the card at 1440x900 and 390x844 go to
// out/screens/. The destination is an RTMP port where nothing listens: the encoder runs, the
// output retries.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { atPath, launchBrowser, newPage, OUT_DIR, startAppliance, startFakeCamera, visible } from '../lib/harness.mjs';

const ADMIN = 'admin';
const PASSWORD = 'preroll-choice-27';
const SCREENS = join(OUT_DIR, 'screens');
mkdirSync(SCREENS, { recursive: true });
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

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

describe('pre-roll choice', () => {
  let red;
  let blue;
  let app;
  let browser;
  let page;
  let programId;
  let redId;
  let blueId;

  before(async () => {
    red = await startFakeCamera('Quay', { path: '/quay', width: 320, height: 180, fps: 15 });
    blue = await startFakeCamera('Slipway', { path: '/slipway', width: 320, height: 180, fps: 15 });
    app = await startAppliance('preroll', { extraArgs: ['--bcrypt-cost', '10'] });
    browser = await launchBrowser();
    page = await newPage(browser, app.url);
    await page.goto('/setup');
    await page.getByLabel('Username').fill(ADMIN);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByLabel('Confirm password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await atPath(page, '/');
    const port = await deadPort();
    const dest = await api(page, 'POST', '/api/destinations', {
      name: 'Local ingest',
      platform: 'custom',
      url: `rtmp://127.0.0.1:${port}/live2`,
      stream_key: 'preroll-key',
    });
    redId = (await api(page, 'POST', '/api/cameras', { name: 'Quay', type: 'STATIC', protocol: 'RTSP', address: red.url })).id;
    blueId = (await api(page, 'POST', '/api/cameras', { name: 'Slipway', type: 'STATIC', protocol: 'RTSP', address: blue.url })).id;
    programId = (
      await api(page, 'POST', '/api/programs', { name: 'Main', width: 320, height: 180, fps: 15, destination_ids: [dest.id] })
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
    await red?.stop();
    await blue?.stop();
  });

  it('shows both options with their measured cost and switches a running program live', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Program' }).click();
    await atPath(page, '/program');
    const card = await visible(page.getByTestId('preroll-choice'));
    const instant = card.getByRole('radio', { name: /Instant takes/ });
    const economy = card.getByRole('radio', { name: /Economy/ });
    assert.equal(await instant.isChecked(), true, 'instant by default');
    assert.equal(await economy.isChecked(), false);
    // Stopped: nothing measured yet, and said so.
    assert.match(await card.getByTestId('preroll-instant-cost').textContent(), /not measured yet/);
    assert.match(await card.getByTestId('preroll-economy-cost').textContent(), /not measured yet/);

    // Running, instant: a take from the keyframe cache, a pre-roll and a take from it.
    await api(page, 'POST', `/api/programs/${programId}/start`);
    await api(page, 'POST', `/api/programs/${programId}/take`, { camera_id: redId });
    await until(
      async () => (await api(page, 'GET', `/api/programs/${programId}`)).live?.on_air_camera_id === redId,
      30_000,
      'the first camera on air',
    );
    await api(page, 'POST', `/api/programs/${programId}/preroll`, { camera_id: blueId });
    await until(
      async () => (await api(page, 'GET', `/api/programs/${programId}`)).live?.ingests.length === 2,
      15_000,
      'the second camera pre-rolled',
    );
    await new Promise((r) => setTimeout(r, 2_000));
    await api(page, 'POST', `/api/programs/${programId}/take`, { camera_id: blueId });
    const cost = card.getByTestId('preroll-instant-cost');
    const text = await until(
      async () => {
        const t = await cost.textContent();
        return /costs \d+(\.\d)? % of a core here; last take from pre-roll: \d+ ms/.test(t) ? t : null;
      },
      30_000,
      'the measured CPU and pre-rolled take time',
    );
    const eco = await until(
      async () => {
        const t = await card.getByTestId('preroll-economy-cost').textContent();
        return /keyframe cache: \d+ ms/.test(t) ? t : null;
      },
      15_000,
      'the take time from the keyframe cache',
    );
    console.log(`instant: ${text}\neconomy: ${eco}`);

    // Each option is a 44 px target (its label), and the card has no serious axe violation.
    for (const label of [card.getByTestId('preroll-instant'), card.getByTestId('preroll-economy')]) {
      const box = await label.boundingBox();
      assert.ok(box.height >= 43.5 && box.width >= 43.5, `target ${JSON.stringify(box)}`);
    }
    await page.addScriptTag({ path: AXE });
    const violations = await page.evaluate(async () => {
      const r = await window.axe.run('[data-testid="preroll-choice"]', { resultTypes: ['violations'] });
      return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id);
    });
    assert.deepEqual(violations, []);

    // Economy, chosen in the page: stored, applied live (the off-air camera's decoder stops).
    await card.getByTestId('preroll-economy').click();
    await until(async () => economy.isChecked(), 10_000, 'economy checked');
    const v = await until(
      async () => {
        const p = await api(page, 'GET', `/api/programs/${programId}`);
        return p.preroll === 'economy' && p.live?.preroll.mode === 'economy' && p.live.ingests.length === 1 ? p : null;
      },
      10_000,
      'economy in force',
    );
    assert.equal(v.live.ingests[0].camera_id, blueId, 'only the on-air camera is decoded');
    assert.equal(await instant.isChecked(), false);

    for (const [size, viewport] of [
      ['1440x900', { width: 1440, height: 900 }],
      ['390x844', { width: 390, height: 844 }],
    ]) {
      await page.setViewportSize(viewport);
      await card.scrollIntoViewIfNeeded();
      await page.waitForTimeout(500);
      const scroll = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
      assert.ok(scroll[0] <= scroll[1], `${size}: no horizontal scroll (${scroll[0]} > ${scroll[1]})`);
      await page.screenshot({ path: join(SCREENS, `program-preroll-${size}.png`) });
      await card.screenshot({ path: join(SCREENS, `preroll-card-${size}.png`) });
    }
    assert.deepEqual(page.consoleErrors, []);
  });
});
