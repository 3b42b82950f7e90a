// Browser suites: every test file runs in real Chromium and Firefox ESR (Debian packages), with real
// IndexedDB, BroadcastChannel and Web Locks. No jsdom, no fake-indexeddb.
import { chromeLauncher } from '@web/test-runner-chrome';
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
