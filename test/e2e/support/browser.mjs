// Debian Chromium through playwright-core, plus bounded waiting helpers.
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/**
 * Playwright's default switches that switch off background throttling. The throttling test needs the
 * browser's real behaviour, so it launches without them (see the harness notes in requirements.md).
 */
export const THROTTLING_SWITCHES = [
  '--disable-background-timer-throttling',
  '--disable-backgrounding-occluded-windows',
  '--disable-renderer-backgrounding',
];

/**
 * @param {object} [options]
 * @param {boolean} [options.throttling] keep Chromium's real background throttling (default: off, like Playwright)
 * @param {string[]} [options.args]
 */
export async function launchChromium({ throttling = false, args = [] } = {}) {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', ...args],
    ...(throttling ? { ignoreDefaultArgs: THROTTLING_SWITCHES } : {}),
    timeout: 30_000,
  });
}

/**
 * Polls `probe` until it returns a truthy value, at most `timeout` ms and `maxTries` attempts.
 * Throws with the last value seen (and `message`) when the condition never holds.
 * @template T
 * @param {() => Promise<T> | T} probe
 * @param {{ timeout?: number, interval?: number, maxTries?: number, message?: string }} [options]
 * @returns {Promise<T>}
 */
export async function waitFor(probe, { timeout = 5_000, interval = 50, maxTries, message = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  const tries = maxTries ?? Math.ceil(timeout / Math.max(1, interval)) + 1;
  let last;
  let lastError;
  for (let i = 0; i < tries; i++) {
    try {
      last = await probe();
      lastError = undefined;
      if (last) return last;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() >= deadline) break;
    await delay(Math.min(interval, Math.max(0, deadline - Date.now())));
  }
  const seen = lastError ? `error: ${lastError?.message ?? lastError}` : `last value: ${safeJson(last)}`;
  throw new Error(`timed out after ${timeout} ms waiting for ${message} (${seen})`);
}

/** Real delay. Only for pacing bounded polling loops, never as a synchronisation point. */
export function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function safeJson(value) {
  try {
    const s = JSON.stringify(value);
    return s && s.length > 600 ? `${s.slice(0, 600)}…` : s;
  } catch {
    return String(value);
  }
}

/**
 * Spawns Debian Chromium ourselves (none of Playwright's default switches, so background tabs are
 * really hidden and really throttled) and connects over CDP with `noDefaults` (no emulation that would
 * keep every page "visible"). Its default context behaves like a real window with tabs: only the
 * front tab is visible. Returns `{ browser, context, close }`.
 */
export async function spawnChromium({ args = [] } = {}) {
  const { spawn } = await import('node:child_process');
  const { mkdtemp, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = await mkdtemp(join(tmpdir(), 'sk-chromium-'));
  const child = spawn(CHROMIUM, [
    '--headless', '--no-sandbox', '--remote-debugging-port=0', `--user-data-dir=${dir}`,
    '--no-first-run', '--no-default-browser-check', '--disable-dev-shm-usage', ...args, 'about:blank',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const close = async () => {
    await browser?.close().catch(() => {});
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true }).catch(() => {});
  };
  let browser;
  try {
    const ws = await new Promise((resolve, reject) => {
      let buffer = '';
      const timer = setTimeout(() => reject(new Error(`chromium did not start: ${buffer.slice(-500)}`)), 20_000);
      child.stderr.on('data', (d) => {
        buffer += d;
        const m = /DevTools listening on (ws:\/\/\S+)/.exec(buffer);
        if (m) { clearTimeout(timer); resolve(m[1]); }
      });
      child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`chromium exited (${code}): ${buffer.slice(-500)}`)); });
    });
    browser = await chromium.connectOverCDP(ws, { noDefaults: true, timeout: 20_000 });
    return { browser, context: browser.contexts()[0], close };
  } catch (e) {
    await close();
    throw e;
  }
}
