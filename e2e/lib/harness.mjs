// Starts a real appliance (fresh data directory, free port) and a headless Debian Chromium.

import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const E2E_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const OUT_DIR = join(E2E_DIR, 'out');
mkdirSync(OUT_DIR, { recursive: true });

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

function freePort() {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolvePort(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Runs `$VS_BIN serve` on 127.0.0.1 and waits until GET /api/health answers. */
export async function startAppliance(name, { extraArgs = [] } = {}) {
  const bin = resolve(E2E_DIR, process.env.VS_BIN || '../target/debug/vistterstream');
  if (!existsSync(bin)) {
    throw new Error(`appliance binary not found at ${bin}: run \`cargo build -p vistterstream\` or set VS_BIN`);
  }
  const port = await freePort();
  const dataDir = await mkdtemp(join(tmpdir(), 'vs-e2e-'));
  const logPath = join(OUT_DIR, `appliance-${name}.log`);
  const log = createWriteStream(logPath);
  const child = spawn(bin, ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'info' },
  });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  let exited = null;
  const exitPromise = new Promise((r) =>
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      r();
    }),
  );

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited) throw new Error(`appliance exited early (${JSON.stringify(exited)}); see ${logPath}`);
    try {
      const res = await fetch(`${url}/api/health`);
      if (res.ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`appliance did not answer /api/health within 30 s; see ${logPath}`);
    }
    await sleep(100);
  }

  const stop = async () => {
    if (!exited) {
      child.kill('SIGTERM');
      const timeout = sleep(10_000).then(() => 'timeout');
      if ((await Promise.race([exitPromise, timeout])) === 'timeout') {
        child.kill('SIGKILL');
        await exitPromise;
      }
    }
    log.end();
    await rm(dataDir, { recursive: true, force: true });
  };
  return { url, port, dataDir, logPath, stop };
}

export async function launchBrowser() {
  const executablePath = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
  if (!existsSync(executablePath)) {
    throw new Error(`Chromium not found at ${executablePath}: apt-get install -y chromium (or set CHROMIUM_BIN)`);
  }
  return chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS });
}

/** A page with a desktop-sized viewport whose console errors and failed requests are recorded. */
export async function newPage(browser, baseURL) {
  const context = await browser.newContext({ baseURL, viewport: { width: 1280, height: 860 } });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  page.consoleErrors = [];
  page.on('pageerror', (err) => page.consoleErrors.push(`pageerror: ${err.message}`));
  return page;
}

/** Waits until the locator is visible (playwright-core has no `expect`). */
export async function visible(locator, timeout = 15_000) {
  await locator.first().waitFor({ state: 'visible', timeout });
  return locator.first();
}

/** Waits until the page's URL path is `path` (a string, or a RegExp to match). */
export async function atPath(page, path, timeout = 15_000) {
  const ok = (p) => (path instanceof RegExp ? path.test(p) : p === path);
  await page.waitForURL((u) => ok(new URL(u).pathname), { timeout });
}

export function shot(page, name) {
  return page.screenshot({ path: join(OUT_DIR, `${name}.png`), fullPage: true });
}

/**
 * Starts the test rig's fake RTSP camera (testrig/fake_camera.py, GStreamer) on a free
 * loopback port and resolves once it prints its READY line.
 */
export async function startFakeCamera(name, { path = '/cam', user, password, width = 640, height = 360, fps = 15, audioFreq } = {}) {
  const script = resolve(E2E_DIR, '../testrig/fake_camera.py');
  const args = [script, '--port', '0', '--path', path, '--name', name, '--width', String(width), '--height', String(height), '--fps', String(fps)];
  if (user) args.push('--user', user, '--password', password);
  if (audioFreq) args.push('--audio-freq', String(audioFreq));
  const python = process.env.VS_RIG_PYTHON || '/usr/bin/python3';
  const child = spawn(python, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const log = createWriteStream(join(OUT_DIR, `camera-${name.replace(/\W+/g, '_')}.log`));
  child.stderr.pipe(log);
  const exitPromise = new Promise((r) => child.on('exit', r));
  const port = await new Promise((resolvePort, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error('fake camera did not print READY within 20 s')), 20_000);
    child.stdout.on('data', (chunk) => {
      buf += chunk.toString();
      const m = /READY port=(\d+)/.exec(buf);
      if (m) {
        clearTimeout(timer);
        resolvePort(Number(m[1]));
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`fake camera exited with ${code} (needs scripts/install-deps.sh: GStreamer RTSP server, python3-gi)`));
    });
  });
  const stop = async () => {
    child.kill('SIGTERM');
    const timeout = sleep(5_000).then(() => 'timeout');
    if ((await Promise.race([exitPromise, timeout])) === 'timeout') child.kill('SIGKILL');
    log.end();
  };
  return { port, url: `rtsp://127.0.0.1:${port}${path}`, stop };
}
