// The operator's console, second half (issue 18), in Chromium against the appliance in demo mode
// (three simulated cameras, one of them PTZ over a simulated ONVIF service):
// - PTZ fine framing: 10 % on the speed slider moves a few degrees a second, a step button
//   moves a degree, a click on the picture centres there (the camera takes RelativeMove), the
//   camera's unnamed preset is imported with a readable name;
// - overlays placed on the picture: a new overlay lands where it overlaps none, the colour
//   picker fills the colour, a box dragged near a corner snaps to the title-safe area, a corner
//   drag resizes an image, text is shown at the size a 480-line program draws it, and the
//   canvas shows a running program's live output;
// - the events view: takes, the slate, a destination error, a camera going offline (reached
//   from the camera's error badge, filtered on it), a failed login arriving live;
// - every main page at 1440×900 and 390×844: a screenshot each in out/screens/, no horizontal
//   scroll and 44 px touch targets on the phone, no serious or critical axe-core violation.

import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { atPath, launchBrowser, OUT_DIR, startAppliance, visible } from '../lib/harness.mjs';

const ADMIN = 'admin';
const PASSWORD = 'fine-framing-18';
const SCREENS = join(OUT_DIR, 'screens');
mkdirSync(SCREENS, { recursive: true });
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
const DESKTOP = { width: 1440, height: 900 };
/**
 * What the phone and accessibility checks still find on pages that console-a owns (issue 18 is
 * split: it rebuilds them), left to it rather than edited here; the shared components and styles
 * are fixed. Remove a line when its page is fixed.
 */
const OWNED_ELSEWHERE = [
  // (none left: console-a fixed the Dashboard link, the Program page's contrast and its width)
];
const PHONE = { width: 390, height: 844 };

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

async function until(fn, timeout = 30_000, what = 'condition') {
  const deadline = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Controls smaller than 44×44 CSS px, in the page (links in running text are exempt, as in
 * WCAG 2.5.8; a checkbox counts with its label; `data-target-exempt` names its equivalent). */
function smallTargets() {
  const sel = 'a[href], button, input:not([type="hidden"]), select, textarea, [role="button"], summary';
  const out = [];
  for (const el of document.querySelectorAll(sel)) {
    if (el.closest('[data-target-exempt]')) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden') continue;
    let r = el.getBoundingClientRect();
    if (r.width <= 1 || r.height <= 1) continue; // not rendered, or screen-reader only
    if (el.tagName === 'A' && style.display === 'inline') continue;
    const label = el.closest('label');
    if ((el.type === 'checkbox' || el.type === 'radio') && label) r = label.getBoundingClientRect();
    if (r.width < 43.5 || r.height < 43.5) {
      const name = (el.getAttribute('aria-label') || el.textContent || el.name || el.id || '').trim().slice(0, 40);
      out.push(`${el.tagName.toLowerCase()} "${name}" ${Math.round(r.width)}×${Math.round(r.height)}`);
    }
  }
  return out;
}

async function axeViolations(page) {
  if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) await page.addScriptTag({ path: AXE });
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')),
    }));
  });
  return result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

async function boxes(page) {
  return page.getByTestId('overlay-box').evaluateAll((els) =>
    els.map((e) => ({
      name: e.dataset.name,
      id: Number(e.dataset.overlayId),
      x: Number(e.dataset.x),
      y: Number(e.dataset.y),
      w: Number(e.dataset.w),
      h: Number(e.dataset.h),
    })),
  );
}

describe('console: PTZ framing, overlays on the picture, events, phone', () => {
  let app;
  let browser;
  let context;
  let page;
  let ptzId;
  let program;

  before(async () => {
    app = await startAppliance('console-b', { extraArgs: ['--demo', '--health-interval-s', '2', '--bcrypt-cost', '10'] });
    browser = await launchBrowser();
    context = await browser.newContext({ baseURL: app.url, viewport: DESKTOP });
    context.setDefaultTimeout(15_000);
    page = await context.newPage();
    page.consoleErrors = [];
    page.on('pageerror', (err) => page.consoleErrors.push(`pageerror: ${err.message}`));
    await page.goto('/setup');
    await page.getByLabel('Username').fill(ADMIN);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByLabel('Confirm password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await atPath(page, '/');
    const cams = await until(async () => {
      const list = await api(page, 'GET', '/api/cameras');
      return list.length >= 3 ? list : null;
    }, 30_000, 'the demo cameras');
    ptzId = cams.find((c) => c.type === 'PTZ').id;
  });

  after(async () => {
    await browser?.close();
    await app?.stop();
  });

  it('frames finely with PTZ: slow hold, steps, click to centre, readable imported presets', async () => {
    const pos = async () => (await api(page, 'GET', `/api/cameras/${ptzId}/ptz`)).position;
    await page.goto(`/cameras/${ptzId}`);
    const panel = await visible(page.getByTestId('ptz-panel'));
    await until(async () => (await pos()) !== null, 30_000, 'the PTZ position');

    // 10 %: a few degrees per second.
    await panel.getByLabel('Speed').fill('10');
    await visible(panel.getByText(/^10% · 1\.6% of top speed$/));
    const before = await pos();
    const right = panel.getByRole('button', { name: 'Pan right', exact: true });
    await right.hover();
    const t0 = Date.now();
    await page.mouse.down();
    await page.waitForTimeout(3_000);
    await page.mouse.up();
    const held = (Date.now() - t0) / 1000;
    await page.waitForTimeout(800);
    const afterHold = await pos();
    const rate = (afterHold.pan - before.pan) / held;
    assert.ok(rate > 1 && rate < 8, `a few degrees per second at 10 %: ${rate.toFixed(2)} °/s`);

    // A step: one degree.
    const s0 = await pos();
    await panel.getByRole('button', { name: 'Step right 1°' }).click();
    await until(async () => Math.abs((await pos()).pan - s0.pan - 1) < 0.2, 15_000, 'a one-degree step');

    // A click right of the centre of the picture turns the camera right (RelativeMove).
    const layer = page.getByTestId('centre-on-click');
    await until(async () => (await layer.getAttribute('data-enabled')) === 'true', 15_000, 'click-to-centre enabled');
    await visible(page.getByText('Click the picture to centre the camera on that point.'));
    const c0 = await pos();
    const box = await layer.boundingBox();
    await page.mouse.click(box.x + box.width * 0.75, box.y + box.height * 0.5);
    // Half the picture's half-width at the widest zoom: 15°.
    await until(async () => Math.abs((await pos()).pan - c0.pan - 15) < 1, 15_000, 'centred 15° to the right');
    assert.ok(Math.abs((await pos()).tilt - c0.tilt) < 0.5, 'no tilt for a click on the horizon');

    // The simulated Sunba names its preset "0": it comes in as "Preset 0".
    await panel.getByRole('button', { name: 'Import presets from camera' }).click();
    await visible(page.getByTestId('preset-row').filter({ hasText: 'Preset 0' }));
    await page.screenshot({ path: join(SCREENS, 'ptz-fine-framing.png'), fullPage: true });
  });

  it('places overlays on the picture: free spot, colour picker, snapping, resizing, text size', async () => {
    await page.goto('/overlays');
    const create = async (name, fill) => {
      await page.getByRole('button', { name: 'New overlay' }).first().click();
      const dialog = await visible(page.getByRole('dialog', { name: 'New overlay' }));
      await dialog.getByLabel('Name').fill(name);
      await fill(dialog);
      await dialog.getByRole('button', { name: 'Create overlay' }).click();
      await visible(page.getByTestId('overlay-row').filter({ hasText: name }));
    };
    await create('Caption', async (d) => {
      await d.getByLabel('Text', { exact: true }).fill('Live from the harbour');
      await d.getByLabel('Pick the text colour').fill('#ff8800');
      assert.equal(await d.getByLabel('Colour (#RRGGBB)').inputValue(), '#FF8800');
    });
    await create('Small print', async (d) => {
      await d.getByLabel('Text', { exact: true }).fill('Webcam');
      await d.getByLabel('Font size').fill('20');
    });
    const list = await api(page, 'GET', '/api/overlays');
    assert.equal(list.find((o) => o.name === 'Caption').definition.color, '#FF8800');
    const b = await boxes(page);
    assert.equal(b.length, 2);
    const [a, c] = b;
    const overlap = a.x < c.x + c.w && c.x < a.x + a.w && a.y < c.y + c.h && c.y < a.y + a.h;
    assert.ok(!overlap, `the second overlay was placed clear of the first: ${JSON.stringify(b)}`);

    // Text at the size a 480-line program draws: 20 px would be 9 px there, drawn at 12.
    const small = () => boxes(page).then((x) => x.find((o) => o.name === 'Small print'));
    await page.getByLabel('Text size as on').selectOption('1080');
    const h1080 = (await small()).h;
    await page.getByLabel('Text size as on').selectOption('480');
    const h480 = (await small()).h;
    assert.equal(h1080, 28);
    assert.equal(h480, 38, 'the 12 px floor, in reference pixels (12 × 1080 / 480 × 1.4)');

    // Drag the caption towards the bottom-right corner: it snaps to the title-safe corner.
    const canvas = page.getByTestId('overlay-canvas');
    const cb = await canvas.boundingBox();
    const scale = cb.width / 1920;
    const cap = page.getByTestId('overlay-box').filter({ has: page.getByText('Live from the harbour') });
    const capBox = await cap.boundingBox();
    const capData = (await boxes(page)).find((o) => o.name === 'Caption');
    const targetX = 1920 - 96 - capData.w + 5; // 5 reference px off the line: within the snap
    const targetY = 1080 - 54 - capData.h - 4;
    await page.mouse.move(capBox.x + 5, capBox.y + 5);
    await page.mouse.down();
    await page.mouse.move(cb.x + targetX * scale + 5, cb.y + targetY * scale + 5, { steps: 8 });
    await page.mouse.up();
    const want = { x: 1920 - 96 - capData.w, y: 1080 - 54 - capData.h };
    await until(async () => {
      const o = (await api(page, 'GET', '/api/overlays')).find((x) => x.name === 'Caption');
      return o.definition.x === want.x && o.definition.y === want.y;
    }, 10_000, `the caption saved at the title-safe corner ${JSON.stringify(want)}`);

    // An image overlay resized by its corner.
    const png = join(OUT_DIR, 'console-b-logo.png');
    writeFileSync(png, Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64'));
    await create('Logo', async (d) => {
      await d.getByLabel('Kind').selectOption('image');
      await d.getByLabel('Image file (PNG, JPEG or SVG)').setInputFiles(png);
      await visible(d.getByRole('img', { name: 'Image console-b-logo.png' }));
    });
    const logo = page.getByTestId('overlay-box').filter({ hasText: 'Logo' });
    await logo.click();
    const before = (await boxes(page)).find((o) => o.name === 'Logo');
    const handle = logo.locator('[data-corner="se"]');
    const hb = await handle.boundingBox();
    const [hx, hy] = [hb.x + hb.width / 2, hb.y + hb.height / 2];
    await page.mouse.move(hx, hy);
    await page.mouse.down();
    await page.mouse.move(hx + 100 * scale, hy + 50 * scale, { steps: 6 });
    await page.mouse.up();
    await until(async () => {
      const o = (await api(page, 'GET', '/api/overlays')).find((x) => x.name === 'Logo');
      return Math.abs(o.definition.width - before.w - 100) <= 12 && Math.abs(o.definition.height - before.h - 50) <= 12;
    }, 10_000, 'the logo saved 100×50 larger');
    await page.screenshot({ path: join(SCREENS, 'overlays-canvas.png'), fullPage: true });
  });

  it('shows a running program on the canvas, and takes, the slate and a destination error as events', async () => {
    const port = await deadPort();
    const dest = await api(page, 'POST', '/api/destinations', {
      name: 'Dead ingest',
      platform: 'custom',
      url: `rtmp://127.0.0.1:${port}/live2`,
      stream_key: 'console-b',
    });
    program = await api(page, 'POST', '/api/programs', {
      name: 'Harbour show',
      destination_ids: [dest.id],
      width: 512,
      height: 288,
      fps: 25,
    });
    const cams = await api(page, 'GET', '/api/cameras');
    const marina = cams.find((c) => c.name.startsWith('Marina'));
    await api(page, 'POST', `/api/programs/${program.id}/start`);
    await api(page, 'POST', `/api/programs/${program.id}/take`, { camera_id: marina.id });
    // The take commits on the camera's first live frame; a slate taken before that supersedes
    // it, and its "on air" entry never comes.
    await until(
      async () => (await api(page, 'GET', `/api/programs/${program.id}`)).live?.on_air_camera_id === marina.id,
      30_000,
      'Marina on air',
    );

    // The Overlays canvas plays the program's own output under the boxes.
    await page.goto('/overlays');
    await page.getByLabel('Picture', { exact: true }).selectOption(`program:${program.id}`);
    await page.waitForFunction(
      () => {
        const v = document.querySelector('[data-testid="overlay-canvas"] video');
        return v && v.readyState >= 2 && v.currentTime > 0;
      },
      null,
      { timeout: 60_000 },
    );
    assert.equal(await page.getByLabel('Text size as on').inputValue(), '288');
    await page.screenshot({ path: join(SCREENS, 'overlays-on-program.png'), fullPage: true });

    await api(page, 'POST', `/api/programs/${program.id}/slate`);
    await page.goto('/events');
    const rows = page.getByTestId('event-row');
    await visible(rows.filter({ hasText: /took “Marina.*”: on air/ }), 30_000);
    await visible(rows.filter({ hasText: 'the slate is on air' }), 30_000);
    await visible(rows.filter({ hasText: /Destination “Dead ingest”: (lost, reconnecting|gave up)/ }), 60_000);
    await page.getByLabel('About').selectOption('destination');
    await visible(rows.filter({ hasText: 'Dead ingest' }));
    assert.equal(await rows.filter({ hasText: 'the slate is on air' }).count(), 0);
    await page.getByLabel('About').selectOption('all');
    await api(page, 'POST', `/api/programs/${program.id}/stop`);
    await visible(rows.filter({ hasText: /Program “Harbour show”: stopped/ }), 30_000);
  });

  it('leads from a camera error to its events, and shows a failed login as it happens', async () => {
    const port = await deadPort();
    const cam = await api(page, 'POST', '/api/cameras', {
      name: 'Breakwater',
      type: 'STATIC',
      protocol: 'RTSP',
      address: `rtsp://127.0.0.1:${port}/live`,
    });
    await page.goto(`/cameras/${cam.id}`);
    const badge = page.getByRole('link', { name: 'Offline' });
    await visible(badge, 30_000);
    await badge.click();
    await atPath(page, '/events');
    assert.equal(new URL(page.url()).searchParams.get('subject'), `camera:${cam.id}`);
    await visible(page.getByTestId('events-subject').filter({ hasText: 'Breakwater' }));
    const rows = page.getByTestId('event-row');
    await visible(rows.filter({ hasText: /Camera “Breakwater”: offline: ./ }), 30_000);
    const subjects = await rows.evaluateAll((els) => els.map((e) => e.dataset.subject));
    assert.ok(subjects.every((s) => s === `camera:${cam.id}`), `only this camera: ${subjects}`);
    await page.getByRole('button', { name: 'Show everything' }).click();

    // A failed login elsewhere appears without a reload.
    const res = await fetch(`${app.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: ADMIN, password: 'not-it' }),
    });
    assert.equal(res.status, 401);
    await visible(rows.filter({ hasText: /Login “admin”: wrong password from 127\.0\.0\.1/ }), 15_000);
    await page.getByLabel('Severity').selectOption('warning');
    assert.equal(await rows.filter({ hasText: 'signed in' }).count(), 0);
    await visible(rows.filter({ hasText: 'wrong password' }));
    await page.screenshot({ path: join(SCREENS, 'events-filtered.png'), fullPage: true });
    assert.deepEqual(page.consoleErrors, []);
  });

  it('has every main page usable at 1440×900 and on a 390×844 phone, with no serious axe violation', async () => {
    const pages = [
      ['dashboard', '/'],
      ['cameras', '/cameras'],
      ['camera-detail', `/cameras/${ptzId}`],
      ['program', '/program'],
      ['streams', '/streams'],
      ['destinations', '/destinations'],
      ['overlays', '/overlays'],
      ['timelines', '/timelines'],
      ['events', '/events'],
      ['account', '/account'],
    ];
    const problems = [];
    for (const [size, viewport] of [
      ['1440x900', DESKTOP],
      ['390x844', PHONE],
    ]) {
      await page.setViewportSize(viewport);
      for (const [name, path] of pages) {
        await page.goto(path);
        await visible(page.getByRole('heading', { level: 1 }));
        // The event stream and live players never let the network go idle: a moment to settle.
        await page.waitForTimeout(1_000);
        await page.screenshot({ path: join(SCREENS, `${name}-${size}.png`), fullPage: true });
        for (const v of await axeViolations(page)) problems.push(`${name} ${size}: axe ${v.impact} ${v.id} (${v.help}) at ${v.nodes.join(', ')}`);
        if (viewport === PHONE) {
          const scroll = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
          if (scroll[0] > scroll[1]) problems.push(`${name} ${size}: horizontal scroll (${scroll[0]} > ${scroll[1]} px)`);
          for (const t of await page.evaluate(smallTargets)) problems.push(`${name} ${size}: touch target ${t}`);
        }
      }
    }
    // The phone's menu opens, lists every page with 44 px rows, and a choice closes it.
    await page.goto('/');
    await page.getByRole('button', { name: 'Open the menu' }).click();
    const nav = page.getByRole('navigation', { name: 'Main' });
    await visible(nav.getByRole('link', { name: 'Events' }));
    await page.screenshot({ path: join(SCREENS, 'menu-390x844.png'), fullPage: true });
    for (const t of await page.evaluate(smallTargets)) problems.push(`menu 390x844: touch target ${t}`);
    await nav.getByRole('link', { name: 'Events' }).click();
    await atPath(page, '/events');
    assert.equal(await nav.isVisible(), false, 'the menu closes after a choice');
    writeFileSync(join(SCREENS, 'problems.txt'), `${problems.join('\n')}\n`);
    // Problems left on pages another helper owns (console-a: Program, Dashboard), each named so
    // that it fails here the day it changes; every other page has none.
    const elsewhere = problems.filter((p) => OWNED_ELSEWHERE.some((re) => re.test(p)));
    assert.deepEqual(
      problems.filter((p) => !elsewhere.includes(p)),
      [],
    );
    assert.deepEqual(page.consoleErrors, []);
  });
});
