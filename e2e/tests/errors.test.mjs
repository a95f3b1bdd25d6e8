// Errors a person sees: wrong password, field errors from the API, and an expired session.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { atPath, launchBrowser, newPage, shot, startAppliance, visible } from '../lib/harness.mjs';

const ADMIN = 'operator';
const PASSWORD = 'correct-horse-9';

describe('error handling', () => {
  let app;
  let browser;
  let page;

  before(async () => {
    app = await startAppliance('errors');
    browser = await launchBrowser();
    page = await newPage(browser, app.url);
  });

  after(async () => {
    await browser?.close();
    await app?.stop();
  });

  it('rejects mismatched and too short passwords on set-up', async () => {
    await page.goto('/setup');
    await page.getByLabel('Username').fill(ADMIN);
    await page.getByLabel('Password', { exact: true }).fill('short');
    await page.getByLabel('Confirm password').fill('different');
    await page.getByRole('button', { name: 'Create account' }).click();
    await visible(page.locator('#confirm-error'));
    // Too short: the appliance says so, next to the password field.
    await page.getByLabel('Confirm password').fill('short');
    await page.getByRole('button', { name: 'Create account' }).click();
    const err = await visible(page.locator('#password-error, [role=alert]'));
    assert.ok((await err.innerText()).trim().length > 0);
    await shot(page, 'setup-error');
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByLabel('Confirm password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await atPath(page, '/');
  });

  it('shows an error for a wrong password', async () => {
    await page.getByRole('button', { name: 'Log out' }).first().click();
    await atPath(page, '/login');
    await page.getByLabel('Username').fill(ADMIN);
    await page.getByLabel('Password').fill('not-the-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const alert = await visible(page.locator('[role=alert], .field-error'));
    assert.ok((await alert.innerText()).trim().length > 0, 'an error message is shown');
    await shot(page, 'login-error');
    await atPath(page, '/login');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await atPath(page, '/');
  });

  it('shows the API field error next to an empty camera name', async () => {
    await page.goto('/cameras/new');
    await page.getByLabel('Address').fill('rtsp://127.0.0.1:8554/cam1');
    await page.getByRole('button', { name: 'Add camera' }).click();
    const err = await visible(page.locator('#name-error'));
    assert.ok((await err.innerText()).trim().length > 0);
    assert.equal(await page.getByLabel('Name', { exact: true }).getAttribute('aria-invalid'), 'true');
    await page.getByLabel('Type').selectOption('PTZ');
    await visible(page.getByLabel('ONVIF host'));
    await shot(page, 'camera-form-error');
    await atPath(page, '/cameras/new');
  });

  it('reports a duplicate preset name from the appliance', async () => {
    const headers = { 'Content-Type': 'application/json', Cookie: await cookieHeader(page) };
    const cam = await (
      await fetch(`${app.url}/api/cameras`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ name: 'Pier', type: 'PTZ', protocol: 'RTSP', address: 'rtsp://127.0.0.1:8554/pier' }),
      })
    ).json();
    assert.ok(cam.id !== undefined, `camera created: ${JSON.stringify(cam)}`);
    await page.goto(`/cameras/${cam.id}`);
    for (let i = 0; i < 2; i += 1) {
      await page.getByRole('button', { name: 'Add preset' }).first().click();
      const dialog = await visible(page.getByRole('dialog'));
      await dialog.getByLabel('Preset name').fill('Home');
      await dialog.getByRole('button', { name: 'Add preset' }).click();
      if (i === 0) await page.getByRole('dialog').waitFor({ state: 'detached' });
    }
    const dialog = page.getByRole('dialog');
    const err = await visible(dialog.locator('#preset-name-error, [role=alert]'));
    assert.ok((await err.innerText()).trim().length > 0);
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await page.getByRole('dialog').waitFor({ state: 'detached' });
  });

  it('asks before deleting a preset and a camera', async () => {
    await page.getByRole('button', { name: 'Delete preset Home' }).click();
    let dialog = await visible(page.getByRole('dialog', { name: 'Delete preset?' }));
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await visible(page.getByTestId('preset-row').filter({ hasText: 'Home' }));
    await page.getByRole('button', { name: 'Delete preset Home' }).click();
    dialog = await visible(page.getByRole('dialog', { name: 'Delete preset?' }));
    await dialog.getByRole('button', { name: 'Delete preset' }).click();
    await visible(page.getByText('No presets yet'));

    await page.goto('/cameras');
    await page.getByRole('button', { name: 'Delete Pier' }).click();
    dialog = await visible(page.getByRole('dialog', { name: 'Delete camera?' }));
    await dialog.getByRole('button', { name: 'Delete camera' }).click();
    await visible(page.getByText('No cameras yet'));
    // Keep one camera for the next test.
    const headers = { 'Content-Type': 'application/json', Cookie: await cookieHeader(page) };
    const res = await fetch(`${app.url}/api/cameras`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ name: 'Pier', type: 'STATIC', protocol: 'RTSP', address: 'rtsp://127.0.0.1:8554/pier' }),
    });
    assert.equal(res.status, 201);
  });

  it('goes to the login page when the session ends', async () => {
    await page.goto('/cameras');
    await visible(page.getByTestId('camera-row').filter({ hasText: 'Pier' }));
    await page.waitForLoadState('networkidle');
    // The session disappears while the page is open: the next API call answers 401.
    await page.context().clearCookies();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Dashboard' }).click();
    await atPath(page, '/login');
    await visible(page.getByRole('heading', { name: 'Sign in' }));
  });
});

async function cookieHeader(page) {
  const cookies = await page.context().cookies();
  return cookies.map((c) => `${c.name}=${c.value}`).join('; ');
}
