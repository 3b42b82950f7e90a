// WebKit (WebKitGTK's MiniBrowser) through WebDriver, for the browser suites, the smoke test and the
// WebKit e2e flows. Debian packages: webkit2gtk-driver (/usr/bin/WebKitWebDriver), xvfb.
//
// MiniBrowser has no headless mode, so this starts its own Xvfb (Xvfb picks a free display itself with
// -displayfd: it tries :0, :1, ... against the lock files and reports the one it took, so two runs on one
// machine never race for a display), checks the display accepts connections, then starts WebKitWebDriver
// on a free loopback port with DISPLAY pointing there. Both are stopped by PID in `stop()`, and
// synchronously on process exit as a safety net. Session creation has a timeout: a missing display or a
// browser that never comes up fails fast with a clear message instead of hanging the run.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const WEBKIT_DRIVER = process.env.WEBKIT_DRIVER_PATH || '/usr/bin/WebKitWebDriver';
const XVFB = process.env.XVFB_PATH || '/usr/bin/Xvfb';
export const SESSION_TIMEOUT_MS = 30_000;

/** MiniBrowser of the installed WebKitGTK: $WEBKIT_MINIBROWSER, else the file `dpkg -L libwebkit2gtk-4.1-0` lists. */
export function miniBrowserPath() {
  if (process.env.WEBKIT_MINIBROWSER) return process.env.WEBKIT_MINIBROWSER;
  try {
    const files = execFileSync('dpkg', ['-L', 'libwebkit2gtk-4.1-0'], { encoding: 'utf8', timeout: 5_000 });
    const found = files.split('\n').find((f) => f.endsWith('/MiniBrowser'));
    if (found) return found;
  } catch {
    // not a dpkg system, or the package is missing: fall through to the error below
  }
  throw new Error('WebKit MiniBrowser not found: install the Debian packages `webkit2gtk-driver xvfb` (or set WEBKIT_MINIBROWSER)');
}

/** WebDriver capabilities for MiniBrowser; classic WebDriver (webdriverio 9 asks for BiDi otherwise). */
export function webkitCapabilities() {
  return {
    browserName: 'MiniBrowser',
    'wdio:enforceWebDriverClassic': true,
    'webkitgtk:browserOptions': { binary: miniBrowserPath(), args: ['--automation'] },
  };
}

/** Whether this machine can run the WebKit suites at all (the Debian packages are installed). */
export function webkitAvailable() {
  try {
    return existsSync(WEBKIT_DRIVER) && existsSync(XVFB) && Boolean(miniBrowserPath());
  } catch {
    return false;
  }
}

// Child processes still running: killed (by PID, with their process groups) on exit or on a terminating
// signal if stop() never ran. They run in their own process groups, so a Ctrl-C would not reach them.
const live = new Set();
let guarded = false;
function guardExit() {
  if (guarded) return;
  guarded = true;
  const killAll = () => { for (const child of live) killGroup(child, 'SIGKILL'); };
  process.once('exit', killAll);
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]]) {
    process.on(signal, () => {
      killAll();
      // Alone on this signal, keep its default meaning (exit); otherwise the runner's handler decides.
      if (process.listenerCount(signal) === 1) process.exit(code);
    });
  }
}

/**
 * Starts Xvfb and WebKitWebDriver. Returns `{ hostname, port, display, capabilities, stop }`; pass
 * `hostname`/`port` to webdriverio so it never looks for (or downloads) a driver itself.
 */
export async function startWebKitDriver({ quiet = true } = {}) {
  if (!existsSync(WEBKIT_DRIVER) || !existsSync(XVFB)) {
    throw new Error(`WebKit needs ${WEBKIT_DRIVER} and ${XVFB}: apt-get install webkit2gtk-driver xvfb`);
  }
  const capabilities = webkitCapabilities();
  guardExit();
  const stops = [];
  const stop = async () => {
    while (stops.length) await stops.pop()().catch(() => {});
  };
  try {
    const xvfb = await startXvfb();
    stops.push(xvfb.stop);
    // A fresh HOME-like runtime dir per run keeps WebKit's caches and storage out of the user's home and
    // out of other runs (every run starts with empty IndexedDB).
    const dataDir = mkdtempSync(join(tmpdir(), 'sk-webkit-'));
    stops.push(async () => rmSync(dataDir, { recursive: true, force: true }));
    const driver = await startDriver({
      DISPLAY: `:${xvfb.display}`,
      XDG_DATA_HOME: join(dataDir, 'data'),
      XDG_CACHE_HOME: join(dataDir, 'cache'),
      XDG_CONFIG_HOME: join(dataDir, 'config'),
      // No accessibility bus / no session bus lookups on a bare CI machine.
      NO_AT_BRIDGE: '1',
    }, quiet);
    stops.push(driver.stop);
    return { hostname: '127.0.0.1', port: driver.port, display: xvfb.display, capabilities, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/**
 * webdriverio `remote()` against a driver from `startWebKitDriver()`, with a session-creation timeout.
 * @param {{ hostname: string, port: number, capabilities: object }} rig
 */
export async function webkitSession(rig, { timeout = SESSION_TIMEOUT_MS } = {}) {
  const { remote } = await import('webdriverio');
  const what = `WebKit: WebDriver session creation (MiniBrowser on display :${rig.display}, driver 127.0.0.1:${rig.port})`;
  try {
    return await withTimeout(
      remote({
        hostname: rig.hostname,
        port: rig.port,
        capabilities: rig.capabilities,
        logLevel: 'silent',
        connectionRetryCount: 0,
        connectionRetryTimeout: timeout,
      }),
      timeout + 2_000,
      what,
    );
  } catch (e) {
    throw new Error(`${what} failed: ${e?.message ?? e}`, { cause: e });
  }
}

export function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    Promise.resolve(promise).finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    }),
  ]);
}

async function startXvfb() {
  const child = spawn(XVFB, ['-displayfd', '3', '-screen', '0', '1280x1024x24', '-nolisten', 'tcp'], {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    detached: true,
  });
  live.add(child);
  const exited = exitPromise(child);
  const stop = () => stopChild(child, exited);
  try {
    let stderr = '';
    child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-2_000); });
    const display = await withTimeout(new Promise((resolve, reject) => {
      let out = '';
      child.stdio[3].on('data', (d) => {
        out += d;
        if (out.includes('\n')) resolve(Number(out.trim()));
      });
      exited.then((code) => reject(new Error(`Xvfb exited (${code}) before reporting a display: ${stderr}`)));
    }), 10_000, 'Xvfb start');
    if (!Number.isInteger(display)) throw new Error(`Xvfb reported no display number: ${stderr}`);
    // The display must accept connections before any browser is started on it: a browser on a dead
    // display makes WebDriver session creation hang.
    await withTimeout(connectUnix(`/tmp/.X11-unix/X${display}`), 5_000, `X display :${display} check`);
    return { display, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

async function startDriver(env, quiet) {
  let lastError;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const child = spawn(WEBKIT_DRIVER, [`--port=${port}`, '--host=127.0.0.1'], {
      env: { ...process.env, ...env },
      stdio: ['ignore', quiet ? 'ignore' : 'inherit', 'pipe'],
      // Its own process group: MiniBrowser and the WebKit web/network processes it starts go with it.
      detached: true,
    });
    live.add(child);
    const exited = exitPromise(child);
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr = (stderr + d).slice(-4_000);
      if (!quiet) process.stderr.write(d);
    });
    const stop = () => stopChild(child, exited);
    try {
      await waitForStatus(port, exited);
      return { port, stop };
    } catch (e) {
      lastError = new Error(`${e.message}${stderr ? `; driver stderr: ${stderr}` : ''}`);
      await stop();
    }
  }
  throw lastError;
}

/** GET /status until the driver answers (at most 100 tries and 10 s). */
async function waitForStatus(port, exited) {
  let gone = false;
  exited.then(() => { gone = true; });
  const deadline = Date.now() + 10_000;
  for (let i = 0; i < 100 && Date.now() < deadline && !gone; i++) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/status`, { signal: AbortSignal.timeout(1_000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await Promise.race([new Promise((r) => setTimeout(r, 100)), exited]);
  }
  throw new Error(gone ? `WebKitWebDriver exited on port ${port}` : `WebKitWebDriver did not answer on 127.0.0.1:${port} within 10 s`);
}

function connectUnix(path) {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    socket.once('connect', () => { socket.destroy(); resolve(); });
    socket.once('error', (e) => reject(new Error(`X display socket ${path}: ${e.message}`)));
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.once('error', reject);
  });
}

function exitPromise(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode ?? child.signalCode);
    else child.once('exit', (code, signal) => resolve(code ?? signal));
  });
}

/** Terminates the child's process group (by the child's PID), then kills it if it is still there after 3 s. */
async function stopChild(child, exited) {
  if (child.exitCode === null && child.signalCode === null) {
    killGroup(child, 'SIGTERM');
    const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 3_000);
    await exited;
    clearTimeout(timer);
  }
  live.delete(child);
}

function killGroup(child, signal) {
  if (!child.pid) return;
  try {
    process.kill(-child.pid, signal); // detached: the group id is the child's PID
  } catch {
    try { child.kill(signal); } catch { /* already gone */ }
  }
}
