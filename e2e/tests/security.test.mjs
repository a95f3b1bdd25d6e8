// Names are text and other pages cannot act with the session, in a real browser:
// - a camera named with markup (a <script> and an <img onerror>) is shown literally on every
//   page that shows camera names (Cameras, Dashboard, camera detail, Program) and nothing in
//   it runs;
// - a page served from another port of the appliance's host (same site: the SameSite=Strict
//   session cookie is sent along) cannot create a camera, by fetch or by a form post, nor
//   import a timeline with text/plain (which needs no preflight).

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { atPath, E2E_DIR, launchBrowser, newPage, shot, startAppliance, visible } from '../lib/harness.mjs';

const ADMIN = 'admin';
const PASSWORD = 'names-are-text-7';
// 60 characters: within the 64 of a camera name. Either part that ran would set window.__xss.
const NAME = '<script>window.__xss=1</script><img src=x onerror="__xss=2">';

async function api(page, method, path, data) {
  const res = await page.request.fetch(path, { method, data });
  assert.ok(res.ok(), `${method} ${path} → ${res.status()} ${await res.text()}`);
  return res.status() === 204 ? null : res.json();
}

/** Nothing of the name ran, and no element was made of it. */
async function assertInert(page, where) {
  assert.equal(await page.evaluate(() => typeof window.__xss), 'undefined', `${where}: markup ran`);
  const injected = await page.evaluate(() => document.querySelectorAll('img[src="x"], script:not([src])').length);
  assert.equal(injected, 0, `${where}: an element was made of the name`);
}

describe('names are shown as text', () => {
  let app;
  let browser;
  let page;
  let cameraId;

  before(async () => {
    app = await startAppliance('security');
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
  });

  it('adds the camera through the form', async () => {
    await page.goto('/cameras/new');
    await page.getByLabel('Name', { exact: true }).fill(NAME);
    // Nothing listens there: the pages show the camera offline, which is all this test needs.
    await page.getByLabel('Address').fill('rtsp://127.0.0.1:9/cam');
    await page.getByRole('button', { name: 'Add camera' }).click();
    await atPath(page, '/cameras');
    const cameras = await api(page, 'GET', '/api/cameras');
    assert.deepEqual(
      cameras.map((c) => c.name),
      [NAME],
      'stored as typed',
    );
    cameraId = cameras[0].id;
  });

  it('shows it literally on the camera detail page', async () => {
    await page.goto(`/cameras/${cameraId}`);
    await visible(page.getByText(NAME, { exact: true }));
    await assertInert(page, 'camera detail');
    await shot(page, 'names-camera-detail');
  });

  it('shows it literally on the Cameras page', async () => {
    await page.goto('/cameras');
    await visible(page.getByTestId('camera-row').getByText(NAME, { exact: true }));
    await assertInert(page, 'cameras');
  });

  it('shows it literally on the Dashboard', async () => {
    await page.goto('/');
    await visible(page.getByTestId('camera-tile').getByText(NAME, { exact: true }));
    await assertInert(page, 'dashboard');
    await shot(page, 'names-dashboard');
  });

  it('shows it literally on the Program page', async () => {
    const dest = await api(page, 'POST', '/api/destinations', {
      name: 'Nowhere',
      platform: 'custom',
      url: 'rtmp://127.0.0.1:9/live',
      stream_key: 'names-key',
    });
    await api(page, 'POST', '/api/programs', { name: 'Main', width: 320, height: 180, fps: 25, destination_ids: [dest.id] });
    await page.goto('/program');
    await visible(page.getByTestId('take-card').getByText(NAME, { exact: true }));
    await assertInert(page, 'program');
    await shot(page, 'names-program');
  });
});

describe('another page on the same host cannot act with the session', () => {
  let app;
  let browser;
  let page;
  let other;
  let otherUrl;

  before(async () => {
    app = await startAppliance('cross-origin');
    browser = await launchBrowser();
    page = await newPage(browser, app.url);
    await page.goto('/setup');
    await page.getByLabel('Username').fill(ADMIN);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByLabel('Confirm password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await atPath(page, '/');
    // A page on 127.0.0.1 too, another port: same site, other origin.
    other = createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end('<!doctype html><title>other</title><p>another service on this host</p>');
    });
    await new Promise((r) => other.listen(0, '127.0.0.1', r));
    otherUrl = `http://127.0.0.1:${other.address().port}`;
  });

  after(async () => {
    await browser?.close();
    await app?.stop();
    other?.close();
  });

  async function counts() {
    const [cameras, timelines] = await Promise.all([
      api(page, 'GET', '/api/cameras'),
      api(page, 'GET', '/api/timelines'),
    ]);
    return { cameras: cameras.length, timelines: timelines.length };
  }

  it('refuses its fetch, its text/plain import and its form post', async () => {
    const attacker = await page.context().newPage();
    await attacker.goto(otherUrl);
    const segment = readFileSync(resolve(E2E_DIR, '../../shared/fixtures/vistterstudio/segment_001.json'), 'utf8');
    const statuses = await attacker.evaluate(
      async ({ base, segment }) => {
        const out = {};
        // A simple request (text/plain, no preflight), with the session cookie.
        const r1 = await fetch(`${base}/api/timelines/import`, {
          method: 'POST',
          mode: 'no-cors',
          credentials: 'include',
          headers: { 'Content-Type': 'text/plain' },
          body: segment,
        });
        out.importType = r1.type;
        const r2 = await fetch(`${base}/api/cameras`, {
          method: 'POST',
          mode: 'no-cors',
          credentials: 'include',
          headers: { 'Content-Type': 'text/plain' },
          body: JSON.stringify({ name: 'Planted', type: 'STATIC', protocol: 'RTSP', address: 'rtsp://127.0.0.1:9/x' }),
        });
        out.cameraType = r2.type;
        return out;
      },
      { base: app.url, segment },
    );
    // Opaque: the page learns nothing either way; what counts is what the appliance did.
    assert.equal(statuses.importType, 'opaque');
    assert.deepEqual(await counts(), { cameras: 0, timelines: 0 }, 'nothing was created from the other page');
    // A form post navigates the page to the appliance's answer, which it can then show.
    await attacker.setContent(
      `<form method="post" action="${app.url}/api/auth/logout"><button type="submit">Log out</button></form>`,
      { waitUntil: 'load' },
    );
    // A real click (not a submit() from evaluate: awaiting an evaluate whose page navigates
    // away can hang in Playwright).
    const [answer] = await Promise.all([
      attacker.waitForResponse((r) => r.url().endsWith('/api/auth/logout'), { timeout: 15_000 }),
      attacker.getByRole('button', { name: 'Log out' }).click({ timeout: 15_000 }),
    ]);
    assert.equal(answer.status(), 403, 'the logout form from the other page is refused');
    // Not closed here: closing a page that a cross-origin form post just navigated hung about
    // one run in five (Chromium 156, playwright-core); the browser closes it in after().
    // The session is still there: the form did not log the user out.
    const state = await api(page, 'GET', '/api/auth/state');
    assert.equal(state.user?.username, ADMIN);
  });

  it('still accepts the appliance’s own pages', async () => {
    await page.goto('/cameras/new');
    await page.getByLabel('Name', { exact: true }).fill('Own page');
    await page.getByLabel('Address').fill('rtsp://127.0.0.1:9/own');
    await page.getByRole('button', { name: 'Add camera' }).click();
    await atPath(page, '/cameras');
    assert.deepEqual(await counts(), { cameras: 1, timelines: 0 });
  });
});
