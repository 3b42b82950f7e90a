// A tiny static HTTP server for the e2e fixtures: the built `dist/` under /dist/, the fixture pages of
// test/e2e/fixtures/ at the root, and `/cb` (the OAuth redirect URI) mapped to the callback fixture.
// Loopback only, random port, no caching (every test gets the bundle that is on disk now).
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

const types = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/**
 * @param {object} [options]
 * @param {string} [options.host]
 * @param {number} [options.port]
 * @param {Record<string, string>} [options.mounts] URL prefix -> directory (absolute or repo-relative)
 * @param {Record<string, string>} [options.aliases] exact URL path -> URL path served instead
 */
export async function startStaticServer({ host = '127.0.0.1', port = 0, mounts = {}, aliases = {} } = {}) {
  const table = Object.entries({
    // E2E_DIST points /dist/ elsewhere (a development build), defaulting to the repo's rollup output.
    '/dist/': process.env.E2E_DIST || 'dist',
    '/bench-cache/': 'test/.cache',
    // The benchmark's comparison page loads oidc-client-ts's own browser bundle (global `oidc`).
    '/vendor/oidc-client-ts/': 'node_modules/oidc-client-ts/dist/browser',
    '/': 'test/e2e/fixtures',
    ...mounts,
  })
    .map(([prefix, dir]) => [prefix, dir.startsWith('/') ? dir : join(repoRoot, dir)])
    .sort((a, b) => b[0].length - a[0].length);
  const alias = { '/cb': '/callback.html', '/': '/app.html', ...aliases };
  const requests = [];

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push(url.pathname);
    const path = alias[url.pathname] ?? url.pathname;
    const file = resolveFile(table, path);
    res.setHeader('cache-control', 'no-store');
    if (!file || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.statusCode = file ? 405 : 404;
      return res.end();
    }
    try {
      if (!(await stat(file)).isFile()) throw new Error('not a file');
      const body = await readFile(file);
      res.setHeader('content-type', types[extname(file)] ?? 'application/octet-stream');
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch {
      res.statusCode = 404;
      res.end();
    }
  });
  const sockets = new Set();
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve(); });
  });
  const actualPort = server.address().port;
  return {
    origin: `http://${host}:${actualPort}`,
    port: actualPort,
    requests,
    async close() {
      await new Promise((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
  };
}

function resolveFile(table, pathname) {
  let decoded;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0')) return undefined;
  for (const [prefix, dir] of table) {
    if (!decoded.startsWith(prefix)) continue;
    const file = normalize(join(dir, decoded.slice(prefix.length)));
    // No escaping the mounted directory with `..`.
    if (file !== dir && !file.startsWith(dir.endsWith(sep) ? dir : dir + sep)) return undefined;
    return file;
  }
  return undefined;
}
