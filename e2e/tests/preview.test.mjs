// The live preview really plays in headless Chromium: on the camera page the <video> element's
// time advances and its picture has the camera's size (fragmented MP4 over WebSocket + MSE).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { atPath, launchBrowser, newPage, shot, startAppliance, startFakeCamera, visible } from '../lib/harness.mjs';

const ADMIN = 'admin';
const PASSWORD = 'lighthouse-keeper-7';
const WIDTH = 800;
const HEIGHT = 448;

describe('the live preview', () => {
  let camera;
  let app;
  let browser;
  let page;
  let cameraId;

  before(async () => {
    camera = await startFakeCamera('Harbour', { path: '/harbour', width: WIDTH, height: HEIGHT, fps: 15 });
    app = await startAppliance('preview', { extraArgs: ['--health-interval-s', '5', '--bcrypt-cost', '10'] });
    browser = await launchBrowser();
    page = await newPage(browser, app.url);
    await page.goto('/setup');
    await page.getByLabel('Username').fill(ADMIN);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByLabel('Confirm password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await atPath(page, '/');
    // The camera is added through the API with the browser's own session.
    const r = await page.request.post('/api/cameras', {
      data: { name: 'Harbour', type: 'STATIC', protocol: 'RTSP', address: camera.url },
    });
    assert.equal(r.status(), 201);
    cameraId = (await r.json()).id;
  });

  after(async () => {
    await browser?.close();
    await app?.stop();
    await camera?.stop();
  });

  it('plays on the camera page at the camera size', async () => {
    await page.goto(`/cameras/${cameraId}`);
    const video = await visible(page.getByTestId('live-video'), 15_000);
    const codec = await page.evaluate(() => MediaSource.isTypeSupported('video/mp4; codecs="avc1.42E01E"'));
    assert.ok(codec, 'this Chromium decodes H.264 in MSE (otherwise the page falls back to snapshots)');
    // Wait for the first frames, then check that time keeps moving.
    await page.waitForFunction(
      () => {
        const v = document.querySelector('[data-testid="live-video"]');
        return v && v.readyState >= 2 && v.currentTime > 0;
      },
      null,
      { timeout: 30_000 },
    );
    const t0 = await video.evaluate((v) => v.currentTime);
    await page.waitForTimeout(2_000);
    const t1 = await video.evaluate((v) => v.currentTime);
    assert.ok(t1 - t0 > 1.0, `currentTime advanced from ${t0} to ${t1}`);
    const size = await video.evaluate((v) => [v.videoWidth, v.videoHeight]);
    assert.deepEqual(size, [WIDTH, HEIGHT]);
    // Latency at the player: how far the picture is behind the newest buffered frame.
    const behind = await video.evaluate((v) => v.buffered.end(v.buffered.length - 1) - v.currentTime);
    assert.ok(behind < 1.5, `picture ${behind.toFixed(2)} s behind the live edge`);
    await shot(page, 'camera-live-preview');

    const stats = await (await page.request.get(`/api/cameras/${cameraId}/live/stats`)).json();
    assert.equal(stats.viewers, 1, JSON.stringify(stats));
    assert.equal(stats.running, true);
  });
});
