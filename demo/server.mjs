#!/usr/bin/env node
// `npm start`: the sessionkeeper demo on a real OpenID Connect provider, all on 127.0.0.1.
//
//   - oidc-provider (demo/provider.mjs): development login accepting any name and password, access
//     tokens of 30 s (refreshes are visible), refresh-token rotation and RFC 7009 revocation on;
//   - a static server for four pages that share one session: a plain page using only the CDN bundle
//     (dist/sessionkeeper.iife.min.js), an ESM page with an import map, a React app and a Vue app (the
//     last two bundled in memory with esbuild at start-up).
//
// The SDK is built with rollup first when dist/ is missing or older than the sources.
// Options: --port <n> (or PORT; 0 picks free ports), --provider-port <n> (or PROVIDER_PORT; default
// port + 1), --ttl <s> (access-token lifetime), --no-build. Ctrl-C or SIGTERM stops everything.
//
// `startDemo()` is also what test/e2e/demo.test.mjs runs in-process.
import { createServer } from 'node:http';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, readdir, stat } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startProvider } from './provider.mjs';

const demoDir = fileURLToPath(new URL('./', import.meta.url));
const repoRoot = join(demoDir, '..');
const publicDir = join(demoDir, 'public');

/** The demo pages; each is its own OAuth redirect URI (`<origin>/<page>/`). */
export const PAGES = ['plain', 'esm', 'react', 'vue'];

/** What the ESM page's import map points at, besides dist/: only these node_modules folders are served. */
const SERVED_PACKAGES = ['idb', 'broadcast-channel', 'oblivious-set', 'unload'];

/** The dist files the pages load: a build is needed when one is missing or older than the sources. */
const DIST_FILES = ['index.js', 'oauth.js', 'react.js', 'vue.js', 'sessionkeeper.iife.min.js'];

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
};

/**
 * Starts the provider, bundles the React and Vue apps and serves the demo.
 * @param {object} [options]
 * @param {string} [options.host] loopback address for both servers
 * @param {number} [options.port] the demo pages; 0 picks a free port
 * @param {number} [options.providerPort] the OpenID provider; 0 picks a free port
 * @param {number} [options.accessTokenTtl] access-token lifetime in seconds
 * @param {number} [options.idleMs] default idle timeout of the pages (`?idleMs=` overrides)
 * @param {number} [options.warningMs] default idle warning (`?warningMs=` overrides)
 * @param {number} [options.maxSessionMs] default absolute lifetime (`?maxSessionMs=` overrides)
 * @param {string} [options.name] the session name (IndexedDB, channel and lock namespace)
 * @param {Record<string, Record<string, string>>} [options.extraPages] more pages, `{ dir: { file: text } }`,
 *   served at `/<dir>/<file>` (`index.html` at `/<dir>/`), each registered as redirect URI `<origin>/<dir>/`
 *   (the tests serve the README's quick starts this way)
 * @returns {Promise<{ origin: string, issuer: string, urls: Record<string, string>, provider: Awaited<ReturnType<typeof startProvider>>, requests: string[], close(): Promise<void> }>}
 */
export async function startDemo({
  host = '127.0.0.1',
  port = 0,
  providerPort = 0,
  accessTokenTtl = 30,
  idleMs = 2 * 60_000,
  warningMs = 30_000,
  maxSessionMs = 30 * 60_000,
  name = 'demo',
  extraPages = {},
} = {}) {
  const closers = [];
  const close = async () => {
    for (const fn of closers.splice(0).reverse()) await fn().catch(() => {});
  };
  try {
    // The pages' origin must be known before the provider starts (CORS and redirect URIs), and the
    // issuer before the pages are served (config.js): bind first, answer once everything is ready.
    let handle = (_req, res) => {
      res.statusCode = 503;
      res.end();
    };
    const web = await listen(createServer((req, res) => handle(req, res)), port, host);
    closers.push(web.close);
    const origin = `http://${host}:${web.port}`;

    const [provider, bundles] = await Promise.all([
      startProvider({
        host,
        port: providerPort,
        appOrigins: [origin],
        redirectUris: [...PAGES, ...Object.keys(extraPages)].map((page) => `${origin}/${page}/`),
        accessTokenTtl,
        rotateRefreshToken: true,
        revocation: true,
      }),
      bundle(),
    ]);
    closers.push(() => provider.close());
    const { issuer } = provider;

    const config = {
      issuer,
      clientId: 'spa',
      tokenEndpoint: `${issuer}/token`,
      revocationEndpoint: `${issuer}/token/revocation`,
      resource: provider.resourceUrl,
      name,
      accessTokenTtl,
      idleMs,
      warningMs,
      maxSessionMs,
    };
    // Strict for every page: scripts from this origin only, plus the hash of an inline import map.
    const csp = (hash) =>
      [
        "default-src 'self'",
        `script-src 'self'${hash ? ` '${hash}'` : ''}`,
        `connect-src 'self' ${issuer}`,
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
      ].join('; ');
    const requests = [];
    handle = (req, res) =>
      serve(req, res, { config, bundles, requests, csp, extraPages }).catch((error) => {
        res.statusCode = 500;
        res.end(String(error?.message ?? error));
      });

    const urls = { index: `${origin}/`, ...Object.fromEntries(PAGES.map((page) => [page, `${origin}/${page}/`])) };
    return { origin, issuer, urls, provider, requests, close };
  } catch (error) {
    await close();
    throw error;
  }
}

async function serve(req, res, { config, bundles, requests, csp, extraPages }) {
  const url = new URL(req.url ?? '/', 'http://demo');
  const path = url.pathname;
  requests.push(path);
  res.setHeader('cache-control', 'no-store');
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('referrer-policy', 'no-referrer');
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405);

  if (path === '/config.js') {
    return send(res, 200, `window.DEMO_CONFIG = ${JSON.stringify(config, null, 2)};\n`, TYPES['.js']);
  }
  if (path.startsWith('/.build/')) {
    const file = bundles.get(path.slice('/.build/'.length));
    return file ? send(res, 200, file, TYPES[extname(path)]) : send(res, 404);
  }
  // /plain -> /plain/ (the page is its own redirect URI, with the slash)
  if (PAGES.includes(path.slice(1)) || Object.hasOwn(extraPages, path.slice(1))) {
    res.setHeader('location', `${path}/${url.search}`);
    return send(res, 308);
  }

  const [, dir, rest] = /^\/([^/]+)\/(.*)$/.exec(path) ?? [];
  if (dir && Object.hasOwn(extraPages, dir)) {
    const name = rest || 'index.html';
    const body = Object.hasOwn(extraPages[dir], name) ? extraPages[dir][name] : undefined;
    if (body === undefined) return send(res, 404);
    const type = TYPES[extname(name)] ?? 'application/octet-stream';
    if (type.startsWith('text/html')) res.setHeader('content-security-policy', csp(importMapHash(body)));
    return send(res, 200, body, type);
  }

  let file;
  if (path.startsWith('/dist/')) file = inside(join(repoRoot, 'dist'), path.slice('/dist/'.length));
  else if (path.startsWith('/node_modules/')) {
    const [pkg] = path.slice('/node_modules/'.length).split('/');
    if (SERVED_PACKAGES.includes(pkg)) file = inside(join(repoRoot, 'node_modules'), path.slice('/node_modules/'.length));
  } else file = inside(publicDir, path.endsWith('/') ? `${path}index.html` : path);
  if (!file) return send(res, 404);

  let body;
  try {
    if (!(await stat(file)).isFile()) return send(res, 404);
    body = await readFile(file);
  } catch {
    return send(res, 404);
  }
  const type = TYPES[extname(file)] ?? 'application/octet-stream';
  if (type.startsWith('text/html')) res.setHeader('content-security-policy', csp(importMapHash(body.toString('utf8'))));
  return send(res, 200, req.method === 'HEAD' ? undefined : body, type);
}

function send(res, status, body, type) {
  res.statusCode = status;
  if (type) res.setHeader('content-type', type);
  res.end(body);
}

/** `dir/rel`, or undefined when `rel` escapes `dir` (no `..` tricks). */
function inside(dir, rel) {
  let decoded;
  try {
    decoded = decodeURIComponent(rel);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0')) return undefined;
  const file = normalize(join(dir, decoded));
  return file.startsWith(dir.endsWith(sep) ? dir : dir + sep) ? file : undefined;
}

/** The CSP hash of a page's inline import map (the only inline script the demo allows), or undefined. */
function importMapHash(html) {
  const m = /<script type="importmap">([\s\S]*?)<\/script>/.exec(html);
  return m ? `sha256-${createHash('sha256').update(m[1]).digest('base64')}` : undefined;
}

/**
 * Bundles the React and Vue apps (ESM) and the demo kit (a classic script, global `DemoKit`, for the
 * plain page) with esbuild, in memory: nothing is written to disk, so a test run and a running demo
 * never race on files. `sessionkeeper` and its subpaths resolve to the built dist/ files, exactly what
 * an app installing the package gets.
 * @returns {Promise<Map<string, Uint8Array>>} file name -> contents
 */
async function bundle() {
  const esbuild = await import('esbuild');
  const pkg = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8'));
  const selfPackage = {
    name: 'sessionkeeper-dist',
    setup(build) {
      build.onResolve({ filter: /^sessionkeeper(\/|$)/ }, (args) => {
        const entry = pkg.exports[`.${args.path.slice('sessionkeeper'.length)}`];
        if (!entry) return { errors: [{ text: `sessionkeeper has no export ${args.path}` }] };
        return { path: join(repoRoot, entry.default) };
      });
    },
  };
  const common = {
    bundle: true,
    write: false,
    minify: true,
    sourcemap: 'linked',
    target: 'es2022',
    platform: 'browser',
    logLevel: 'silent',
    outdir: '/.build',
    absWorkingDir: repoRoot,
    legalComments: 'none',
  };
  const [apps, kit] = await Promise.all([
    esbuild.build({
      ...common,
      entryPoints: { react: join(demoDir, 'app', 'react.jsx'), vue: join(demoDir, 'app', 'vue.js') },
      format: 'esm',
      jsx: 'automatic',
      plugins: [selfPackage],
      define: {
        'process.env.NODE_ENV': '"production"',
        __VUE_OPTIONS_API__: 'true',
        __VUE_PROD_DEVTOOLS__: 'false',
        __VUE_PROD_HYDRATION_MISMATCH_DETAILS__: 'false',
      },
    }),
    esbuild.build({ ...common, entryPoints: { kit: join(publicDir, 'kit.js') }, format: 'iife', globalName: 'DemoKit' }),
  ]);
  const files = new Map();
  for (const out of [...apps.outputFiles, ...kit.outputFiles]) files.set(out.path.slice(out.path.lastIndexOf('/') + 1), out.contents);
  return files;
}

function listen(server, port, host) {
  const sockets = new Set();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve({
        port: server.address().port,
        close: () =>
          new Promise((done) => {
            server.close(() => done());
            for (const s of sockets) s.destroy();
          }),
      });
    });
  });
}

// --- the build check of `npm start` ---------------------------------------------------------------------

/** True when a dist file the demo loads is missing or older than anything rollup builds it from. */
export async function distIsStale() {
  const newest = async (path) => {
    const info = await stat(path);
    if (!info.isDirectory()) return info.mtimeMs;
    let max = 0;
    for (const entry of await readdir(path)) max = Math.max(max, await newest(join(path, entry)));
    return max;
  };
  let oldestOutput = Infinity;
  for (const file of DIST_FILES) {
    try {
      oldestOutput = Math.min(oldestOutput, (await stat(join(repoRoot, 'dist', file))).mtimeMs);
    } catch {
      return true;
    }
  }
  const inputs = await Promise.all(['src', 'rollup.config.mjs', 'tsconfig.json'].map((p) => newest(join(repoRoot, p))));
  return Math.max(...inputs) > oldestOutput;
}

function runBuild() {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(repoRoot, 'node_modules', 'rollup', 'dist', 'bin', 'rollup'), '-c', '--silent'], {
      cwd: repoRoot,
      stdio: 'inherit',
    });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`rollup -c exited with ${code}`))));
  });
}

// --- CLI -------------------------------------------------------------------------------------------------

async function main() {
  const args = process.argv.slice(2);
  const flag = (name) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const port = Number(flag('--port') ?? process.env.PORT ?? 4180);
  const providerPort = Number(flag('--provider-port') ?? process.env.PROVIDER_PORT ?? (port === 0 ? 0 : port + 1));
  const accessTokenTtl = Number(flag('--ttl') ?? 30);

  if (!args.includes('--no-build') && (await distIsStale())) {
    console.log('building sessionkeeper (dist/ is missing or older than src/)…');
    const t0 = performance.now();
    await runBuild();
    console.log(`built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }

  let demo;
  try {
    demo = await startDemo({ port, providerPort, accessTokenTtl });
  } catch (error) {
    if (error?.code === 'EADDRINUSE') {
      console.error(`port ${error.port} is in use: try PORT=0 npm start (free ports) or --port <n>`);
      process.exit(1);
    }
    throw error;
  }
  const u = demo.urls;
  console.log(`
sessionkeeper demo: four pages, one session (sign in with any name and password)

  plain page, CDN bundle (IIFE)   ${u.plain}
  ESM page with an import map     ${u.esm}
  React (sessionkeeper/react)     ${u.react}
  Vue (sessionkeeper/vue)         ${u.vue}

  OpenID provider                 ${demo.issuer}  (access tokens live ${accessTokenTtl} s, rotation and revocation on)
  Query options                   ?idleMs=20000&warningMs=10000&maxSessionMs=600000

ready in ${Math.round(performance.now())} ms since node started. Ctrl-C stops.`);

  let stopping = false;
  const stop = async (signal) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping…`);
    const timer = setTimeout(() => process.exit(1), 5_000);
    timer.unref();
    await demo.close();
    process.exit(0);
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
