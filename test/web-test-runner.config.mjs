// Browser suites: every test file runs in real Chromium, Firefox ESR and WebKit (Debian packages), with
// real IndexedDB, BroadcastChannel and Web Locks. No jsdom, no fake-indexeddb.
//
// WebKit is WebKitGTK's MiniBrowser driven by WebKitWebDriver (Debian `webkit2gtk-driver`) through
// @web/test-runner-webdriver; test/support/webkit-driver.mjs starts (and stops) its Xvfb and driver.
// BROWSERS=chromium,firefox,webkit (any subset) picks the engines.
import { chromeLauncher } from '@web/test-runner-chrome';
import { WebdriverLauncher } from '@web/test-runner-webdriver';
import { startWebKitDriver, webkitCapabilities, withTimeout, SESSION_TIMEOUT_MS } from './support/webkit-driver.mjs';
import puppeteer from 'puppeteer-core';
import { createServer } from 'node:net';
import { esbuildPlugin } from '@web/dev-server-esbuild';
import { reactEsm } from './support/react-esm.mjs';

// A free port per run, so parallel runs (several engineers, CI stages) never collide on 8000.
const port = Number(process.env.WTR_PORT) || (await new Promise((resolve) => {
  const server = createServer().listen(0, '127.0.0.1', () => {
    const { port: free } = server.address();
    server.close(() => resolve(free));
  });
}));

const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const firefox = process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr';
const only = process.env.BROWSERS?.split(',');

const browsers = [
  chromeLauncher({
    puppeteer,
    launchOptions: { executablePath: chromium, args: ['--no-sandbox', '--headless=new', '--disable-gpu', '--disable-background-networking', '--disable-component-update'] },
  }),
  chromeLauncher({
    puppeteer,
    launchOptions: { browser: 'firefox', executablePath: firefox, headless: true },
  }),
].filter((launcher) => !only || only.includes(launcher.name.toLowerCase().includes('firefox') ? 'firefox' : 'chromium'));
if (!only || only.includes('webkit')) browsers.push(webkitLauncher());

/**
 * The WebDriver launcher, with its own Xvfb + WebKitWebDriver started on the first test session (not at
 * config load, so a Chromium-only run never starts them) and stopped with the launcher. It reports as
 * "WebKit" in the progress lines (test/run.mjs counts per browser name).
 */
function webkitLauncher() {
  class WebKitLauncher extends WebdriverLauncher {
    rig;
    rigStarting;
    async initialize(config) {
      await super.initialize(config);
      this.name = 'WebKit';
    }
    async startRig() {
      this.rigStarting ??= startWebKitDriver().then((rig) => {
        this.rig = rig;
        Object.assign(this.options, { hostname: rig.hostname, port: rig.port });
      });
      await this.rigStarting;
    }
    async startSession(id, url) {
      await this.startRig();
      return super.startSession(id, url);
    }
    async startDebugSession(id, url) {
      await this.startRig();
      return super.startDebugSession(id, url);
    }
    createDriverManager() {
      // A missing display or a browser that never starts would otherwise hang here.
      return withTimeout(super.createDriverManager(), SESSION_TIMEOUT_MS + 2_000, `WebKit: WebDriver session creation (MiniBrowser on display :${this.rig?.display})`);
    }
    async stop() {
      await super.stop();
      await this.rig?.stop();
      this.rig = undefined;
      this.rigStarting = undefined;
    }
  }
  return new WebKitLauncher({
    capabilities: webkitCapabilities(),
    logLevel: 'error',
    connectionRetryCount: 0,
    connectionRetryTimeout: SESSION_TIMEOUT_MS,
  });
}

export default {
  port,
  hostname: '127.0.0.1',
  rootDir: new URL('..', import.meta.url).pathname,
  files: process.env.TEST_FILES?.split(',') ?? ['test/browser/**/*.test.ts', 'test/oauth/**/*.test.ts', 'test/react/**/*.test.{ts,tsx}', 'test/vue/**/*.test.ts'],
  nodeResolve: { exportConditions: ['browser', 'import', 'development'], browser: false },
  concurrency: 1,
  concurrentBrowsers: 2,
  browserStartTimeout: 60_000,
  testsFinishTimeout: 300_000,
  testFramework: { config: { timeout: 10_000, ui: 'bdd', forbidOnly: true } },
  plugins: [reactEsm(), esbuildPlugin({ ts: true, tsx: true, jsx: true, target: 'es2020', define: { 'process.env.NODE_ENV': '"development"' } })],
  browsers,
};
