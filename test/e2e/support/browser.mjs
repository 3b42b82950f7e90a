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
