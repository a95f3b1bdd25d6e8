// The main path a new owner takes: first-run set-up, a camera, a preset, log out and back in.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { atPath, launchBrowser, newPage, shot, startAppliance, visible } from '../lib/harness.mjs';

const ADMIN = 'admin';
const PASSWORD = 'harbor-lights-42';
const CAMERA_URL = 'rtsp://user:pw@127.0.0.1:8554/cam1';
const CAMERA_URL_REDACTED = 'rtsp://127.0.0.1:8554/cam1';

describe('first run to presets', () => {
  let app;
  let browser;
  let page;

  before(async () => {
    app = await startAppliance('flow');
    browser = await launchBrowser();
    page = await newPage(browser, app.url);
  });

  after(async () => {
    await browser?.close();
    await app?.stop();
  });

  it('sends a fresh appliance to the set-up page and creates the admin', async () => {
    await page.goto('/');
    await atPath(page, '/setup');
    await visible(page.getByRole('heading', { name: 'Welcome to VistterStream' }));
    await page.getByLabel('Username').fill(ADMIN);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByLabel('Confirm password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await atPath(page, '/');
    await visible(page.getByRole('heading', { name: 'Dashboard', level: 1 }));
    assert.equal((await page.getByTestId('current-user').textContent()).trim(), ADMIN);
  });

  it('shows an empty camera list with a call to action', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Cameras' }).click();
    await atPath(page, '/cameras');
    await visible(page.getByText('No cameras yet'));
    await page.getByRole('link', { name: 'Add your first camera' }).click();
    await atPath(page, '/cameras/new');
  });

  it('adds a camera and lists its address without credentials', async () => {
    await page.getByLabel('Name', { exact: true }).fill('Harbor entrance');
    await page.getByLabel('Address').fill(CAMERA_URL);
    assert.equal(await page.getByLabel('Protocol').inputValue(), 'RTSP');
    await page.getByRole('button', { name: 'Add camera' }).click();
    await atPath(page, '/cameras');
    const row = await visible(page.getByTestId('camera-row').filter({ hasText: 'Harbor entrance' }));
    const text = await row.innerText();
    assert.ok(text.includes(CAMERA_URL_REDACTED), `row shows the address: ${text}`);
    assert.ok(!text.includes('user:pw'), `row must not show credentials: ${text}`);
    assert.ok(!(await page.content()).includes('user:pw'), 'no credentials anywhere on the page');
    await visible(row.getByTestId('status-badge'));
    await shot(page, 'cameras');
  });

  it('opens the camera and adds a preset', async () => {
    await page.getByRole('link', { name: 'Harbor entrance', exact: true }).click();
    await visible(page.getByRole('heading', { name: /Harbor entrance/, level: 1 }));
    assert.equal((await page.getByTestId('camera-address').innerText()).trim(), CAMERA_URL_REDACTED);
    await visible(page.getByText('No presets yet'));
    await page.getByRole('button', { name: 'Add preset' }).click();
    const dialog = await visible(page.getByRole('dialog'));
    await dialog.getByLabel('Preset name').fill('Dock overview');
    await dialog.getByLabel('Pan (°)').fill('12.5');
    await dialog.getByLabel('Tilt (°)').fill('-5');
    await dialog.getByLabel('Zoom (%)').fill('30');
    await dialog.getByRole('button', { name: 'Add preset' }).click();
    await page.getByRole('dialog').waitFor({ state: 'detached' });
    const preset = await visible(page.getByTestId('preset-row').filter({ hasText: 'Dock overview' }));
    const cells = await preset.locator('td').allInnerTexts();
    assert.deepEqual(cells.slice(0, 4), ['Dock overview', '12.5°', '-5°', '30%']);
    await shot(page, 'camera-detail');
  });

  it('keeps the preset after a reload (client-side route served by the appliance)', async () => {
    await page.reload();
    await visible(page.getByTestId('preset-row').filter({ hasText: 'Dock overview' }));
  });

  it('edits a preset', async () => {
    await page.getByRole('button', { name: 'Edit preset Dock overview' }).click();
    const dialog = await visible(page.getByRole('dialog'));
    assert.equal(await dialog.getByLabel('Zoom (%)').inputValue(), '30');
    await dialog.getByLabel('Zoom (%)').fill('45');
    await dialog.getByRole('button', { name: 'Save preset' }).click();
    await page.getByRole('dialog').waitFor({ state: 'detached' });
    await visible(page.getByTestId('preset-row').filter({ hasText: '45%' }));
  });

  it('edits the camera: the password is write-only and can be cleared', async () => {
    await page.getByRole('link', { name: 'Edit camera' }).click();
    await atPath(page, /^\/cameras\/[^/]+\/edit$/);
    assert.equal(await page.getByLabel('Password', { exact: true }).inputValue(), '', 'the password is never sent back');
    assert.equal(await page.getByLabel('Username').inputValue(), 'user');
    await page.getByLabel('Clear the stored password').check();
    await page.getByRole('button', { name: 'Save changes' }).click();
    await visible(page.getByRole('heading', { name: /Harbor entrance/, level: 1 }));
    const details = await page.locator('dl', { has: page.getByTestId('camera-address') }).innerText();
    assert.match(details, /Password\s+None/);
  });

  it('renders the dashboard with the camera tile', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Dashboard' }).click();
    await atPath(page, '/');
    await visible(page.getByTestId('camera-tile').filter({ hasText: 'Harbor entrance' }));
    // The system cards, or a calm "not available" when the appliance has no status yet.
    await visible(page.getByText(/^CPU$|System status not available/));
    await page.waitForTimeout(500);
    await shot(page, 'dashboard');
    await page.setViewportSize({ width: 390, height: 844 });
    await visible(page.getByTestId('camera-tile'));
    await shot(page, 'dashboard-mobile');
    await page.setViewportSize({ width: 1280, height: 860 });
  });

  it('creates an API token shown once, then revokes it', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Account' }).click();
    await atPath(page, '/account');
    await page.getByLabel('Token name').fill('studio');
    await page.getByRole('button', { name: 'Create token' }).click();
    const box = await visible(page.getByTestId('new-token'));
    const token = await box.getByLabel('New API token').inputValue();
    assert.match(token, /^vst_/);
    const res = await fetch(`${app.url}/api/cameras`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200, 'the token works for the API');
    await shot(page, 'account');
    await box.getByRole('button', { name: 'Done' }).click();
    await page.getByRole('button', { name: 'Revoke token studio' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Revoke token' }).click();
    await page.getByTestId('token-row').first().waitFor({ state: 'detached' });
    const after = await fetch(`${app.url}/api/cameras`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(after.status, 401, 'a revoked token is refused');
  });

  it('logs out and back in, and still sees the camera', async () => {
    await page.getByRole('button', { name: 'Log out' }).first().click();
    await atPath(page, '/login');
    await page.goto('/cameras');
    await atPath(page, '/login');
    await page.getByLabel('Username').fill(ADMIN);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await atPath(page, '/cameras');
    await visible(page.getByTestId('camera-row').filter({ hasText: 'Harbor entrance' }));
    assert.deepEqual(page.consoleErrors, []);
  });
});
