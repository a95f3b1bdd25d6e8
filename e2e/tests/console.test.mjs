// The operator's console in Chromium: the Program page's multiview (a live tile per camera, tally,
// click to Preview, Take / space bar / number keys), a take in flight with its progress and an
// explained second click, stops that name the destinations going off air (program, stream), the
// Dashboard's live tiles above the system cards, and timelines that never surprise (an import
// plan before anything is written, created cameras disabled and never contacted, start and stop
// asking about the program, the on-air state in words). Screenshots at 1440x900 and 390x844,
// with no horizontal scroll and touch targets of at least 44 px on these pages.
// The destination is an RTMP port where nothing listens: the encoder runs, the output retries.

import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { atPath, OUT_DIR, launchBrowser, newPage, shot, startAppliance, startFakeCamera, visible } from '../lib/harness.mjs';

const ADMIN = 'admin';
const PASSWORD = 'console-operator-7';
const SECRET = 'Dock-secret-314';

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

/** A loopback port that accepts connections, never answers, and counts them. */
function silentListener() {
  return new Promise((resolveListener, reject) => {
    const sockets = [];
    const state = { count: 0 };
    const srv = createServer((socket) => {
      state.count += 1;
      sockets.push(socket);
      socket.on('error', () => undefined);
    });
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      resolveListener({
        port: srv.address().port,
        state,
        close: () =>
          new Promise((r) => {
            for (const s of sockets) s.destroy();
            srv.close(() => r());
          }),
      });
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

/** Controls in <main> smaller than 44 px either way, and whether the page scrolls sideways. */
async function phoneProblems(page) {
  return page.evaluate(() => {
    const small = [];
    const main = document.querySelector('main');
    for (const el of main.querySelectorAll('button, a[href], input, select, textarea, [role="button"]')) {
      const style = getComputedStyle(el);
      if (style.visibility === 'hidden' || style.display === 'none') continue;
      // A check box or radio is reached through its label.
      const target = (el.type === 'checkbox' || el.type === 'radio') && el.closest('label') ? el.closest('label') : el;
      const r = target.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) continue;
      if (r.height < 43.5 || r.width < 43.5)
        small.push(`${el.tagName.toLowerCase()} "${(el.getAttribute('aria-label') || el.textContent || el.name || '').trim().slice(0, 40)}" ${Math.round(r.width)}x${Math.round(r.height)}`);
    }
    const overflow = document.documentElement.scrollWidth > window.innerWidth + 1;
    return { small, overflow, width: document.documentElement.scrollWidth };
  });
}

/** Screenshots at desktop and phone size; at phone size no sideways scroll, no small target. */
async function bothSizes(page, name) {
  await page.setViewportSize({ width: 1440, height: 900 });
  await page.waitForTimeout(300);
  await shot(page, `console-${name}-1440`);
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(500);
  await shot(page, `console-${name}-390`);
  const p = await phoneProblems(page);
  await page.setViewportSize({ width: 1440, height: 900 });
  assert.equal(p.overflow, false, `${name}: the page scrolls sideways at 390 px (${p.width} px wide)`);
  assert.deepEqual(p.small, [], `${name}: touch targets under 44 px`);
}

const tile = (page, name) => page.getByTestId('take-card').filter({ has: page.getByRole('button', { name: `Take ${name}`, exact: true }) });

describe('operator console', () => {
  let camA;
  let camB;
  let ghost;
  let dock;
  let app;
  let browser;
  let page;
  let program;
  let pier;
  let beach;

  before(async () => {
    camA = await startFakeCamera('Pier', { path: '/pier' });
    camB = await startFakeCamera('Beach', { path: '/beach' });
    ghost = await silentListener();
    dock = await silentListener();
    app = await startAppliance('console', { extraArgs: ['--health-interval-s', '2', '--bcrypt-cost', '10'] });
    browser = await launchBrowser();
    page = await newPage(browser, app.url);
    await page.setViewportSize({ width: 1440, height: 900 });
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
      url: `rtmp://127.0.0.1:${port}/live`,
      stream_key: 'console-key',
    });
    pier = await api(page, 'POST', '/api/cameras', { name: 'Pier', type: 'STATIC', protocol: 'RTSP', address: camA.url });
    beach = await api(page, 'POST', '/api/cameras', { name: 'Beach', type: 'STATIC', protocol: 'RTSP', address: camB.url });
    program = await api(page, 'POST', '/api/programs', {
      name: 'Main',
      width: 512,
      height: 288,
      fps: 25,
      destination_ids: [dest.id],
    });
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
    await ghost?.close();
    await dock?.close();
  });

  it('shows every camera live on the Dashboard, above the system cards', async () => {
    await page.goto('/');
    const tiles = page.getByTestId('camera-tile');
    await visible(tiles.filter({ hasText: 'Pier' }));
    // Live without hovering: both tiles' videos play.
    await page.waitForFunction(
      () => [...document.querySelectorAll('[data-testid="camera-tile"] video')].filter((v) => v.readyState >= 2 && v.currentTime > 0).length >= 2,
      null,
      { timeout: 60_000 },
    );
    const camerasTop = await page.getByRole('heading', { name: 'Cameras', level: 2 }).boundingBox();
    const systemTop = await page.getByRole('heading', { name: 'System', level: 2 }).boundingBox();
    assert.ok(camerasTop.y < systemTop.y, 'the camera tiles come before the system cards');
    await bothSizes(page, 'dashboard');
  });

  it('shows the multiview and takes cameras by click, Take, space bar and number keys', async () => {
    await page.goto('/program');
    await visible(page.getByTestId('multiview'));
    // No audio levels in the API yet: no meter is drawn rather than a fake one.
    assert.equal(await page.getByTestId('multiview').getByRole('meter').count(), 0);
    // Every tile live, with its name and online state.
    await page.waitForFunction(
      () => [...document.querySelectorAll('[data-testid="take-card"] video')].filter((v) => v.readyState >= 2 && v.currentTime > 0).length >= 2,
      null,
      { timeout: 60_000 },
    );
    await visible(tile(page, 'Pier').getByTestId('tile-state').filter({ hasText: 'Online' }), 60_000).catch(async (e) => {
      await shot(page, 'console-online-missing');
      throw e;
    });
    await visible(tile(page, 'Beach').getByTestId('tile-state').filter({ hasText: 'Online' }), 60_000);
    await visible(page.getByTestId('on-air-banner').filter({ hasText: 'Nothing is on air' }));

    const row = page.getByTestId('program-row').filter({ hasText: 'Main' });
    await row.getByRole('button', { name: 'Start' }).click();
    await visible(row.getByText('LIVE'), 30_000);
    await visible(page.getByTestId('on-air-banner').filter({ hasText: 'Program “Main” is on air to Local ingest' }));

    // Beach's number key (its place in the multiview): Beach on air, red tally.
    const order = await page.getByTestId('take-card').evaluateAll((els) => els.map((e) => Number(e.dataset.cameraId)));
    const key = String(order.indexOf(beach.id) + 1);
    await page.getByRole('heading', { name: 'Cameras', level: 3, exact: true }).click();
    await page.keyboard.press(key);
    await until(async () => (await tile(page, 'Beach').getAttribute('data-tally')) === 'program', 30_000, `Beach on air by key ${key}`);
    await visible(tile(page, 'Beach').getByTestId('tally').filter({ hasText: 'On air' }));

    // Click Pier's picture: Preview (green tally); the space bar puts it on air and Beach goes
    // to Preview, as a cut on a vision mixer.
    await page.getByRole('button', { name: 'Preview Pier' }).click();
    await until(async () => (await tile(page, 'Pier').getAttribute('data-tally')) === 'preview', 10_000, 'Pier in Preview');
    assert.equal(await page.getByTestId('preview-camera').textContent(), 'Pier');
    await page.keyboard.press(' ');
    await until(async () => (await tile(page, 'Pier').getAttribute('data-tally')) === 'program', 30_000, 'Pier on air by space');
    await until(async () => (await tile(page, 'Beach').getAttribute('data-tally')) === 'preview', 10_000, 'Beach back in Preview');

    // The Take button puts Preview (Beach) on air.
    await page.getByTestId('take-button').click();
    await until(async () => (await tile(page, 'Beach').getAttribute('data-tally')) === 'program', 30_000, 'Beach on air by Take');
    assert.equal(await tile(page, 'Pier').getAttribute('data-on-air'), 'false');
    const [p] = await api(page, 'GET', '/api/programs');
    assert.equal(p.live.on_air_camera_id, beach.id);
    await bothSizes(page, 'program');
    assert.deepEqual(page.consoleErrors, []);
  });

  it('shows a take in flight and explains a second click', async () => {
    await api(page, 'POST', '/api/cameras', {
      name: 'Ghost',
      type: 'STATIC',
      protocol: 'RTSP',
      address: `rtsp://127.0.0.1:${ghost.port}/never`,
    });
    await visible(tile(page, 'Ghost'), 30_000);
    await tile(page, 'Ghost').getByRole('button', { name: 'Take Ghost' }).click();
    const progress = await visible(page.getByTestId('take-progress'), 30_000);
    assert.match(await progress.innerText(), /Ghost/);
    await visible(page.getByRole('progressbar', { name: 'Take of Ghost in progress' }));
    await shot(page, 'console-take-in-flight-1440');
    // The second click is not ignored: it says why nothing more happens.
    await tile(page, 'Ghost').getByRole('button', { name: 'Take Ghost' }).click();
    const notice = await visible(page.getByTestId('take-notice'));
    assert.match(await notice.innerText(), /Ghost/);
    assert.match(await notice.innerText(), /already being taken|still on its way/);
    await shot(page, 'console-take-explained-1440');
    // Another camera replaces the take that waits.
    await until(async () => {
      await tile(page, 'Pier').getByRole('button', { name: 'Take Pier' }).click();
      return (await tile(page, 'Pier').getAttribute('data-tally')) === 'program';
    }, 45_000, 'Pier on air after the stuck take');
    await page.getByTestId('take-progress').waitFor({ state: 'detached', timeout: 30_000 });
  });

  it('asks before stopping a live program or stream, naming the destinations', async () => {
    const row = page.getByTestId('program-row').filter({ hasText: 'Main' });
    await row.getByRole('button', { name: 'Stop' }).click();
    let dialog = await visible(page.getByRole('dialog', { name: 'Stop the program?' }));
    assert.equal(await dialog.getByTestId('off-air-destinations').innerText(), 'Local ingest');
    await bothSizes(page, 'program-stop-confirm');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await page.waitForTimeout(1000);
    assert.ok((await api(page, 'GET', `/api/programs/${program.id}`)).live, 'still live after Cancel');
    await row.getByRole('button', { name: 'Stop' }).click();
    dialog = await visible(page.getByRole('dialog', { name: 'Stop the program?' }));
    await dialog.getByRole('button', { name: 'Stop program' }).click();
    await visible(row.getByText('stopped'), 30_000);

    await api(page, 'POST', '/api/streams', { name: 'Pier out', camera_id: pier.id, destination_ids: [program.destination_ids[0]] });
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Streams' }).click();
    await atPath(page, '/streams');
    const card = await visible(page.getByTestId('stream-card').filter({ hasText: 'Pier out' }));
    await card.getByRole('button', { name: 'Start' }).click();
    await visible(card.getByTestId('stream-state').filter({ hasNotText: 'Stopped' }), 20_000);
    await card.getByRole('button', { name: 'Stop' }).click();
    dialog = await visible(page.getByRole('dialog', { name: 'Stop the stream?' }));
    assert.equal(await dialog.getByTestId('off-air-destinations').innerText(), 'Local ingest');
    await bothSizes(page, 'stream-stop-confirm');
    await dialog.getByRole('button', { name: 'Stop stream' }).click();
    await visible(card.getByTestId('stream-state').filter({ hasText: 'Stopped' }), 20_000);
    await bothSizes(page, 'streams');
    assert.deepEqual(page.consoleErrors, []);
  });

  it('plans an import: the cameras shown first, nothing written or contacted, created cameras disabled', async () => {
    const segment = (id, name) => ({
      id,
      name,
      duration: 20,
      tracks: [
        {
          id: 'track-1',
          type: 'video',
          clips: [
            { id: 'a', startTime: 0, endTime: 10, asset: { type: 'static', path: camA.url } },
            { id: 'b', startTime: 10, endTime: 20, asset: { type: 'static', path: `rtsp://dock:${SECRET}@127.0.0.1:${dock.port}/live` } },
          ],
        },
      ],
    });
    const file = join(OUT_DIR, 'console-dock.json');
    writeFileSync(file, JSON.stringify(segment('dock-show', 'Dock show')));
    const camerasBefore = (await api(page, 'GET', '/api/cameras')).length;

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Timelines' }).click();
    await atPath(page, '/timelines');
    await visible(page.getByTestId('on-air-banner').filter({ hasText: 'Nothing is on air' }));
    await page.getByLabel('Import a VistterStudio file').setInputFiles(file);
    let dialog = await visible(page.getByRole('dialog', { name: 'Import “Dock show”' }), 30_000);
    const refs = dialog.getByTestId('plan-camera');
    assert.equal(await refs.count(), 2);
    const addresses = await dialog.getByTestId('plan-address').allInnerTexts();
    assert.deepEqual(addresses, [camA.url, `rtsp://127.0.0.1:${dock.port}/live`]);
    assert.ok(!(await page.content()).includes(SECRET), 'the login is not shown');
    // The configured camera is proposed for its address; the unknown one is created.
    assert.equal(await refs.nth(0).getByLabel('Use').inputValue(), String(pier.id));
    assert.equal(await refs.nth(1).getByLabel('Use').inputValue(), 'create');
    await refs.nth(1).getByLabel('Name of the new camera').fill('Dock');
    await visible(dialog.getByText(/starts disabled/));
    // Nothing written yet.
    assert.equal((await api(page, 'GET', '/api/cameras')).length, camerasBefore);
    assert.equal((await api(page, 'GET', '/api/timelines')).length, 0);
    await bothSizes(page, 'import-plan');
    await dialog.getByRole('button', { name: 'Import', exact: true }).click();
    const report = await visible(page.getByTestId('import-report'), 30_000);
    assert.match(await report.innerText(), /Dock/);
    assert.match(await report.innerText(), /disabled/);
    const dockCam = (await api(page, 'GET', '/api/cameras')).find((c) => c.name === 'Dock');
    assert.equal(dockCam.enabled, false);
    await page.waitForTimeout(5000); // two health rounds
    assert.equal(dock.state.count, 0, 'the imported camera was never contacted');

    // The same shape mapped to Beach in the dialog: no camera is created.
    writeFileSync(file, JSON.stringify(segment('beach-show', 'Beach show')).replace(`127.0.0.1:${dock.port}/live`, '127.0.0.1:9/elsewhere'));
    await page.getByLabel('Import a VistterStudio file').setInputFiles(file);
    dialog = await visible(page.getByRole('dialog', { name: 'Import “Beach show”' }), 30_000);
    await dialog.getByTestId('plan-camera').nth(1).getByLabel('Use').selectOption({ label: 'Beach' });
    await dialog.getByRole('button', { name: 'Import', exact: true }).click();
    await visible(page.getByTestId('import-report').filter({ hasText: 'Every source matched an existing camera' }), 30_000);
    const show = await api(page, 'GET', '/api/timelines/beach-show');
    assert.deepEqual(
      show.tracks[0].clips.map((c) => c.source.camera_id),
      [pier.id, beach.id],
    );
    assert.equal((await api(page, 'GET', '/api/cameras')).length, camerasBefore + 1);
  });

  it('asks to start the program with a timeline, asks what the program does at its stop, and says what is on air', async () => {
    const row = page.getByTestId('timeline-row').filter({ hasText: 'Beach show' });
    const banner = page.getByTestId('on-air-banner');
    await visible(banner.filter({ hasText: 'Nothing is on air' }));
    await row.getByRole('button', { name: 'Start Beach show' }).click();
    let dialog = await visible(page.getByRole('dialog', { name: 'Start “Beach show”?' })).catch(async (e) => {
      await shot(page, 'console-timeline-start-missing');
      throw e;
    });
    assert.match(await dialog.getByTestId('start-program-note').innerText(), /“Main”/);
    assert.equal(await dialog.getByTestId('on-air-destinations').innerText(), 'Local ingest');
    await bothSizes(page, 'timeline-start-confirm');
    await dialog.getByRole('button', { name: 'Start program and timeline' }).click();
    await visible(row.getByText(/PLAYING/), 30_000);
    await visible(banner.filter({ hasText: 'Program “Main” is on air to Local ingest' }), 30_000);
    await visible(banner.filter({ hasText: 'Timeline “Beach show” drives it' }), 30_000);

    // Stop, leaving the program on the slate.
    await row.getByRole('button', { name: 'Stop Beach show' }).click();
    dialog = await visible(page.getByRole('dialog', { name: 'Stop “Beach show”?' }));
    await bothSizes(page, 'timeline-stop-confirm');
    await dialog.getByLabel('Leave the program on air showing the slate').check();
    await dialog.getByRole('button', { name: 'Stop timeline' }).click();
    await visible(row.getByRole('button', { name: 'Start Beach show' }), 30_000);
    await until(async () => (await api(page, 'GET', `/api/programs/${program.id}`)).live?.slate_active, 30_000, 'the slate on air');
    await visible(banner.filter({ hasText: 'showing the slate' }), 30_000);

    // The program runs: a start asks nothing; the stop takes the program off air too.
    await row.getByRole('button', { name: 'Start Beach show' }).click();
    await visible(row.getByText(/PLAYING/), 30_000);
    await row.getByRole('button', { name: 'Stop Beach show' }).click();
    dialog = await visible(page.getByRole('dialog', { name: 'Stop “Beach show”?' }));
    await dialog.getByLabel(/Stop the program too \(Local ingest goes off air\)/).check();
    await dialog.getByRole('button', { name: 'Stop timeline' }).click();
    await visible(banner.filter({ hasText: 'Nothing is on air' }), 30_000);
    assert.equal((await api(page, 'GET', `/api/programs/${program.id}`)).live ?? null, null);
    await bothSizes(page, 'timelines');

    // Stopping the program a timeline drives stops the timeline too, and says so (its next cut
    // would start the program again).
    await row.getByRole('button', { name: 'Start Beach show' }).click();
    dialog = await visible(page.getByRole('dialog', { name: 'Start “Beach show”?' }));
    await dialog.getByRole('button', { name: 'Start program and timeline' }).click();
    await visible(row.getByText(/PLAYING/), 30_000);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Program' }).click();
    await atPath(page, '/program');
    await visible(page.getByTestId('on-air-banner').filter({ hasText: 'Timeline “Beach show” drives it' }), 30_000);
    await page.getByTestId('program-row').filter({ hasText: 'Main' }).getByRole('button', { name: 'Stop' }).click();
    dialog = await visible(page.getByRole('dialog', { name: 'Stop the program?' }));
    assert.match(await dialog.getByTestId('stops-timeline').innerText(), /Beach show/);
    await dialog.getByRole('button', { name: 'Stop program' }).click();
    await visible(page.getByTestId('on-air-banner').filter({ hasText: 'Nothing is on air' }), 30_000);
    assert.equal((await api(page, 'GET', '/api/stream/status')).state, 'stopped');
    await page.waitForTimeout(3000);
    assert.equal((await api(page, 'GET', `/api/programs/${program.id}`)).live ?? null, null, 'no cut started it again');
    assert.deepEqual(page.consoleErrors, []);
  });
});
