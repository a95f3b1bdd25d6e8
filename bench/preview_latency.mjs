#!/usr/bin/env node
// Camera-to-picture latency of a live preview, measured in a real browser.
//
// The fake camera (testrig/fake_camera.py --time-bars) codes the wall clock (ms, low 32 bits)
// in 40 black/white blocks across the top of each frame when it makes the frame. This script
// logs in to the appliance, opens a page with a live <video> in headless Chromium and, for
// every frame the player presents (requestVideoFrameCallback), draws the frame onto a canvas,
// reads the blocks back and records
//
//     performance.timeOrigin + metadata.presentationTime − capture time
//
// i.e. when Chromium handed the frame to the compositor minus when the camera made it, both
// on this host's clock. It needs the camera and the browser on the same host (loopback).
//
// Usage:
//   node bench/preview_latency.mjs --base http://127.0.0.1:PORT --user admin --password P \
//       --page /cameras/ID [--seconds 15] [--warmup 2] [--selector 'video[data-testid=live-video]']
//
// Prints a summary, then one JSON line. Exits 1 when no frame could be decoded (the camera was
// not started with --time-bars, or the page shows no such video), 2 on bad usage.
// Needs playwright-core from e2e/node_modules (`cd e2e && npm ci`) and Debian's Chromium
// (/usr/bin/chromium; CHROMIUM_BIN overrides).

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function fail(message, code = 1) {
  console.error(`preview_latency: ${message}`);
  process.exit(code);
}

// A failure inside the browser session: reported once the browser is closed.
class Failure extends Error {}

let opts;
try {
  ({ values: opts } = parseArgs({
    options: {
      base: { type: 'string' },
      user: { type: 'string', default: 'admin' },
      password: { type: 'string' },
      page: { type: 'string' },
      seconds: { type: 'string', default: '15' },
      warmup: { type: 'string', default: '2' },
      selector: { type: 'string', default: 'video[data-testid=live-video]' },
      'play-timeout': { type: 'string', default: '30' },
    },
  }));
} catch (e) {
  fail(e.message, 2);
}
if (!opts.base || !opts.page || opts.password === undefined) {
  fail('usage: --base URL --user NAME --password P --page /path [--seconds 15] [--warmup 2] [--selector CSS]', 2);
}
const seconds = Number(opts.seconds);
const warmup = Number(opts.warmup);
const playTimeout = Number(opts['play-timeout']);
if (!(seconds > 0) || !(warmup >= 0) || !(playTimeout > 0)) fail('--seconds, --warmup and --play-timeout must be numbers', 2);

const require = createRequire(join(ROOT, 'e2e', 'package.json'));
let chromium;
try {
  ({ chromium } = require('playwright-core'));
} catch {
  fail(`playwright-core is not installed in ${join(ROOT, 'e2e', 'node_modules')}: run \`cd e2e && npm ci\``);
}
const executablePath = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
if (!existsSync(executablePath)) {
  fail(`Chromium not found at ${executablePath}: run \`scripts/install-deps.sh test\` (or set CHROMIUM_BIN)`);
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
const round = (x, d = 1) => (x === null || x === undefined ? null : Math.round(x * 10 ** d) / 10 ** d);

// Runs in the page: one requestVideoFrameCallback per presented frame for warmup + seconds.
async function measure({ selector, seconds, warmup }) {
  const video = document.querySelector(selector);
  const BLOCKS = 40;
  const TWO32 = 2 ** 32;
  const canvas = document.createElement('canvas');
  let ctx = null;
  const latencies = [];
  const lags = [];
  let seen = 0;
  let decoded = 0;
  let implausible = 0;
  const implausibleSamples = [];
  let seeks = 0;
  let firstPresented = null;
  let lastPresented = null;
  const onSeeking = () => seeks++;
  video.addEventListener('seeking', onSeeking);
  const quality0 = video.getVideoPlaybackQuality();
  const clockSkew = () => Date.now() - (performance.timeOrigin + performance.now());
  const skewStart = clockSkew();

  const started = performance.now();
  const measuring = () => performance.now() - started >= warmup * 1000;
  await new Promise((done) => {
    const onFrame = (_now, md) => {
      const elapsed = performance.now() - started;
      if (elapsed >= (warmup + seconds) * 1000) {
        done();
        return;
      }
      video.requestVideoFrameCallback(onFrame);
      if (!measuring()) return;
      seen++;
      if (firstPresented === null) firstPresented = md.presentedFrames;
      lastPresented = md.presentedFrames;
      const shownAt = performance.timeOrigin + md.presentationTime;
      const w = video.videoWidth;
      const h = video.videoHeight;
      if (!w || !h) return;
      if (canvas.width !== w || canvas.height !== h) {
        canvas.width = w;
        canvas.height = h;
        ctx = canvas.getContext('2d', { willReadFrequently: true });
      }
      // The code sits in the top 1/12 of the picture (at least 16 px): only that band is
      // drawn (at its place on the full-size canvas), which keeps the per-frame cost small.
      const barH = Math.min(h, Math.max(16, Math.floor(h / 12)));
      ctx.drawImage(video, 0, 0, w, barH, 0, 0, w, barH);
      const row = ctx.getImageData(0, Math.floor(barH / 2), w, 1).data;
      let code = 0;
      for (let i = 0; i < BLOCKS; i++) {
        const x = Math.floor(((i + 0.5) * w) / BLOCKS);
        const luma = 0.299 * row[4 * x] + 0.587 * row[4 * x + 1] + 0.114 * row[4 * x + 2];
        code = code * 2 + (luma >= 128 ? 1 : 0);
      }
      const value = Math.floor(code / 256);
      const checksum = code % 256;
      const sum = ((value >>> 24) + ((value >>> 16) & 255) + ((value >>> 8) & 255) + (value & 255)) % 256;
      if (sum !== checksum) return;
      // The low 32 bits of the capture time: the full epoch ms nearest to now.
      const now = Date.now();
      const base = Math.floor(now / TWO32) * TWO32 + value;
      const captured = [base - TWO32, base, base + TWO32].reduce((a, b) => (Math.abs(b - now) < Math.abs(a - now) ? b : a));
      const latency = shownAt - captured;
      // 1 frame in 256 of an uncoded picture passes the checksum: demand a sane value too.
      if (Math.abs(latency) > 60_000) {
        if (implausibleSamples.length < 3) implausibleSamples.push(Math.round(latency));
        implausible++;
        return;
      }
      decoded++;
      latencies.push(latency);
      const b = video.buffered;
      if (b.length > 0) lags.push(b.end(b.length - 1) - video.currentTime);
    };
    video.requestVideoFrameCallback(onFrame);
  });
  video.removeEventListener('seeking', onSeeking);
  const quality1 = video.getVideoPlaybackQuality();
  return {
    width: video.videoWidth,
    height: video.videoHeight,
    seen,
    decoded,
    implausible,
    implausibleSamples,
    latencies,
    lags,
    seeks,
    presented: firstPresented === null ? 0 : lastPresented - firstPresented + 1,
    dropped: quality1.droppedVideoFrames - quality0.droppedVideoFrames,
    skewMs: Math.max(Math.abs(skewStart), Math.abs(clockSkew())),
  };
}

const browser = await chromium.launch({
  executablePath,
  // Chromium's own new headless mode, chosen explicitly.
  headless: false,
  args: [
    '--headless=new',
    '--no-sandbox',
    '--autoplay-policy=no-user-gesture-required',
    '--mute-audio',
    '--hide-scrollbars',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
let result;
try {
  const context = await browser.newContext({ baseURL: opts.base, viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(err.message));

  const res = await page.request.post('/api/auth/login', { data: { username: opts.user, password: opts.password } });
  if (!res.ok()) throw new Failure(`login as ${opts.user} at ${opts.base} failed: HTTP ${res.status()} ${(await res.text()).slice(0, 200)}`);

  // When the page's first video frame is presented, counted from the start of the navigation.
  await page.addInitScript((selector) => {
    window.__firstFrameMs = null;
    document.addEventListener(
      'loadeddata',
      (ev) => {
        const v = ev.target;
        if (window.__firstFrameMs === null && v instanceof HTMLVideoElement && v.matches(selector) && v.requestVideoFrameCallback) {
          v.requestVideoFrameCallback((_now, md) => {
            if (window.__firstFrameMs === null) window.__firstFrameMs = md.presentationTime;
          });
        }
      },
      true,
    );
  }, opts.selector);

  await page.goto(opts.page);
  try {
    await page.waitForFunction(
      (selector) => {
        const v = document.querySelector(selector);
        return v && v.readyState >= 2 && !v.paused && v.currentTime > 0;
      },
      opts.selector,
      { timeout: playTimeout * 1000, polling: 100 },
    );
  } catch {
    const url = page.url();
    const found = await page.locator(opts.selector).count();
    throw new Failure(
      `no playing video matching ${opts.selector} on ${url} within ${playTimeout} s` +
        (found ? '' : ' (no such element)') +
        (errors.length ? `; page errors: ${errors.join(' | ')}` : ''),
    );
  }
  const hasRvfc = await page.evaluate(() => 'requestVideoFrameCallback' in HTMLVideoElement.prototype);
  if (!hasRvfc) throw new Failure('this Chromium has no requestVideoFrameCallback');

  result = await page.evaluate(measure, { selector: opts.selector, seconds, warmup });
  result.firstFrameMs = await page.evaluate(() => window.__firstFrameMs);
  result.url = page.url();
} catch (e) {
  await browser.close();
  fail(e instanceof Failure ? e.message : e.stack || String(e));
}
await browser.close();

const lat = [...result.latencies].sort((a, b) => a - b);
const avg = (xs) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
const summary = {
  url: result.url,
  selector: opts.selector,
  width: result.width,
  height: result.height,
  window_s: seconds,
  warmup_s: warmup,
  frames_seen: result.seen,
  frames_decoded: result.decoded,
  frames_presented: result.presented,
  frames_dropped: result.dropped,
  live_edge_jumps: result.seeks,
  latency_ms: lat.length
    ? {
        min: round(lat[0]),
        p50: round(percentile(lat, 50)),
        p90: round(percentile(lat, 90)),
        p99: round(percentile(lat, 99)),
        max: round(lat[lat.length - 1]),
        mean: round(avg(lat)),
      }
    : null,
  buffer_lag_s: result.lags.length ? { avg: round(avg(result.lags), 3), max: round(Math.max(...result.lags), 3) } : null,
  first_frame_ms: round(result.firstFrameMs, 0),
  clock_skew_ms: round(result.skewMs, 2),
};

const fps = (result.seen / seconds).toFixed(1);
console.log(`preview latency: ${summary.url} (${opts.selector}), ${result.width}x${result.height}, ${seconds} s after ${warmup} s of warm-up`);
console.log(
  `  frames: ${result.seen} seen (${fps}/s), ${result.decoded} decoded (checksum ok)` +
    (result.implausible ? `, ${result.implausible} implausible (e.g. ${result.implausibleSamples.join(', ')} ms)` : '') +
    `; player: ${result.presented} presented, ${result.dropped} dropped, ${result.seeks} jump(s) to the live edge`,
);
if (summary.latency_ms) {
  const l = summary.latency_ms;
  console.log(`  latency capture → presented (ms): min ${l.min}  p50 ${l.p50}  p90 ${l.p90}  p99 ${l.p99}  max ${l.max}  (mean ${l.mean})`);
}
if (summary.buffer_lag_s) {
  console.log(`  player buffer lag (buffered end − currentTime): avg ${summary.buffer_lag_s.avg} s, max ${summary.buffer_lag_s.max} s`);
}
if (summary.first_frame_ms !== null) console.log(`  first frame presented ${summary.first_frame_ms} ms after navigation`);
if (summary.clock_skew_ms > 5) console.log(`  warning: Date.now() and performance.timeOrigin + now() differ by ${summary.clock_skew_ms} ms`);
console.log(JSON.stringify(summary));

if (result.decoded === 0) {
  fail(
    result.seen === 0
      ? `the video presented no frame in the ${seconds} s window`
      : `none of the ${result.seen} frames carried a readable time code: was the camera started with --time-bars (testrig/fake_camera.py)?`,
  );
}
