// Program audio from the browser: a running program's Audio card shows the on-air camera's
// level and the program's (a tone at 0.2 of full scale: about −14 dBFS), turning the camera's
// sound off empties the program's meter without stopping anything, and the camera's preview
// and the program's preview (the program's own output: picture and sound) play muted with an
// unmute button, and the program's sound reaches the browser's audio decoder.
// The destination is an RTMP port where nothing listens: the encoder runs, the output retries.

import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { atPath, launchBrowser, newPage, shot, startAppliance, startFakeCamera, visible } from '../lib/harness.mjs';

const ADMIN = 'admin';
const PASSWORD = 'program-audio-42';

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

/** The peak (dBFS) a meter shows, or null when it shows silence. */
async function peakOf(locator) {
  const v = await locator.getAttribute('data-peak');
  return v === null || v === '' ? null : Number(v);
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

describe('program audio', () => {
  let cam;
  let app;
  let browser;
  let page;
  let programId;
  let cameraId;

  before(async () => {
    cam = await startFakeCamera('Harbour', { path: '/harbour', width: 320, height: 180, fps: 15, audioFreq: 600 });
    app = await startAppliance('audio', { extraArgs: ['--bcrypt-cost', '10'] });
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
      stream_key: 'audio-key',
    });
    cameraId = (await api(page, 'POST', '/api/cameras', { name: 'Harbour', type: 'STATIC', protocol: 'RTSP', address: cam.url })).id;
    programId = (
      await api(page, 'POST', '/api/programs', { name: 'Main', width: 320, height: 180, fps: 15, destination_ids: [dest.id] })
    ).id;
    await api(page, 'POST', `/api/programs/${programId}/start`);
    await api(page, 'POST', `/api/programs/${programId}/take`, { camera_id: cameraId });
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

  it('meters the on-air camera and the program, and a camera turned off is silent', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Program' }).click();
    await atPath(page, '/program');
    const card = await visible(page.getByTestId('audio-meters'));
    const program = card.getByTestId('audio-meter-program');
    const camera = card.getByTestId('audio-camera').filter({ hasText: 'Harbour' });
    await visible(camera.getByText('ON AIR'));
    const p = await until(
      async () => {
        const v = await peakOf(program);
        return v !== null && v > -17 && v < -11 ? v : null;
      },
      30_000,
      'the program meter at the tone level',
    );
    const c = await peakOf(camera.getByTestId('audio-meter-camera'));
    assert.ok(c !== null && c > -17 && c < -11, `camera meter ${c}`);
    await until(async () => !(await card.getByTestId('audio-integrated').textContent()).includes('—'), 15_000, 'integrated loudness');
    await shot(page, 'program-audio');
    console.log(`program peak ${p} dBFS, camera ${c} dBFS`);

    await camera.getByLabel('Harbour audio on').uncheck();
    await until(async () => (await peakOf(program)) === null, 15_000, 'silence once the camera is off');
    // The camera's own level is still measured (what it sends), only the program is silent.
    assert.notEqual(await peakOf(camera.getByTestId('audio-meter-camera')), null);
    const stored = await api(page, 'GET', `/api/cameras/${cameraId}/audio`);
    assert.equal(stored.enabled, false);
    const live = await api(page, 'GET', `/api/programs/${programId}`);
    assert.equal(live.live.on_air_camera_id, cameraId, 'the camera stays on air');
    await camera.getByLabel('Harbour audio on').check();
    await until(async () => (await peakOf(program)) !== null, 15_000, 'the sound back');
  });

  it("the program's preview carries the program's sound", async () => {
    await page.goto('/program');
    const pane = page.getByTestId('program-live');
    const video = await visible(pane.getByTestId('program-video'), 30_000);
    const button = await visible(pane.getByTestId('live-unmute'), 60_000);
    assert.equal(await video.evaluate((v) => v.muted), true, 'muted by default');
    await button.click();
    assert.equal(await button.getAttribute('aria-pressed'), 'true');
    assert.equal(await video.evaluate((v) => v.muted), false, 'unmuted');
    // The picture moves and the AAC track is decoded (Chromium counts the bytes it decoded).
    const t0 = await video.evaluate((v) => v.currentTime);
    const a0 = await video.evaluate((v) => v.webkitAudioDecodedByteCount);
    const [t1, a1] = await until(async () => {
      const [t, a] = await video.evaluate((v) => [v.currentTime, v.webkitAudioDecodedByteCount]);
      return t > t0 + 1 && a > a0 ? [t, a] : null;
    }, 30_000, 'the program preview to play picture and sound');
    console.log(`program preview: ${(t1 - t0).toFixed(1)} s played, ${a1 - a0} audio bytes decoded`);
    await shot(page, 'program-preview-unmuted');
  });

  it('a camera preview plays muted and can be unmuted', async () => {
    await page.goto(`/cameras/${cameraId}`);
    const button = await visible(page.getByTestId('live-unmute').first(), 30_000);
    assert.equal(await button.getAttribute('aria-pressed'), 'false');
    const video = page.getByTestId('live-video').first();
    assert.equal(await video.evaluate((v) => v.muted), true, 'muted by default');
    await button.click();
    assert.equal(await button.getAttribute('aria-pressed'), 'true');
    assert.equal(await video.evaluate((v) => v.muted), false, 'unmuted');
    await shot(page, 'camera-preview-unmuted');
  });
});
