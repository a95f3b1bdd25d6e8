// With a real (fake) RTSP camera: connection test, live snapshot and health on the dashboard.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { atPath, launchBrowser, newPage, shot, startAppliance, startFakeCamera, visible } from '../lib/harness.mjs';

const ADMIN = 'admin';
const PASSWORD = 'lighthouse-keeper-7';

describe('a live camera', () => {
  let camera;
  let app;
  let browser;
  let page;

  before(async () => {
    camera = await startFakeCamera('Marina', { path: '/marina', user: 'cam', password: 'secret' });
    app = await startAppliance('live', { extraArgs: ['--health-interval-s', '2', '--bcrypt-cost', '10'] });
    browser = await launchBrowser();
    page = await newPage(browser, app.url);
    await page.goto('/setup');
    await page.getByLabel('Username').fill(ADMIN);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByLabel('Confirm password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await atPath(page, '/');
  });

  after(async () => {
    await browser?.close();
    await app?.stop();
    await camera?.stop();
  });

  it('explains a failed connection test in words', async () => {
    await page.goto('/cameras/new');
    await page.getByLabel('Name', { exact: true }).fill('Marina');
    await page.getByLabel('Address').fill(camera.url.replace('rtsp://', 'rtsp://cam:wrong@'));
    await page.getByRole('button', { name: 'Test connection' }).click();
    const result = await visible(page.getByTestId('test-result'), 30_000);
    const text = await result.innerText();
    assert.match(text, /Connection failed/);
    assert.match(text, /username or password/);
  });

  it('tests the connection, then saves the camera', async () => {
    await page.getByLabel('Address').fill(camera.url.replace('rtsp://', 'rtsp://cam:secret@'));
    await page.getByRole('button', { name: 'Test connection' }).click();
    const result = await visible(page.getByTestId('test-result').filter({ hasText: 'Connection successful' }), 30_000);
    const text = await result.innerText();
    assert.match(text, /H264/);
    assert.match(text, /640×360/);
    await shot(page, 'camera-form-test');
    await page.getByRole('button', { name: 'Add camera' }).click();
    await atPath(page, '/cameras');
    const row = await visible(page.getByTestId('camera-row').filter({ hasText: 'Marina' }));
    assert.ok(!(await row.innerText()).includes('secret'));
  });

  it('shows the snapshot and the online state', async () => {
    await page.getByRole('link', { name: 'Marina', exact: true }).click();
    const img = await visible(page.getByRole('img', { name: 'Snapshot of Marina' }), 30_000);
    const width = await img.evaluate((el) => el.naturalWidth);
    assert.ok(width > 0, 'the snapshot is a real picture');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Dashboard' }).click();
    const tile = await visible(page.getByTestId('camera-tile').filter({ hasText: 'Marina' }));
    await visible(tile.getByTestId('status-badge').filter({ hasText: 'Online' }), 30_000);
    await visible(tile.getByRole('img', { name: 'Snapshot of Marina' }), 30_000);
    await visible(page.getByText('Live', { exact: true }));
    await visible(page.getByText('CPU', { exact: true }));
    await shot(page, 'dashboard-live');
  });
});
