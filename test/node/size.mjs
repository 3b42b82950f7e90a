#!/usr/bin/env node
// Size of every public entry, min+gzip, each with its own dependencies (frameworks excluded), measured
// from the built dist/ with esbuild + zlib. Budgets live in package.json ("sizeBudgets", bytes).
// `node test/node/size.mjs` prints the table; test/node/size.test.mjs fails CI when a budget is exceeded.
import { build } from 'esbuild';
import { gzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));

/** Bundles `entry` (a dist file) with its dependencies; returns min+gzip bytes of what a page loads up front and lazily. */
export async function measure(entry, { external = [] } = {}) {
  if (entry.endsWith('.iife.min.js')) {
    const code = readFileSync(new URL(`../../${entry}`, import.meta.url));
    return { initial: gzipSync(code, { level: 9 }).length, lazy: 0, min: code.length };
  }
  const result = await build({
    stdin: { contents: `export * from './${entry}'`, resolveDir: root, loader: 'js' },
    bundle: true,
    minify: true,
    format: 'esm',
    splitting: true,
    outdir: 'out',
    write: false,
    platform: 'browser',
    conditions: ['browser', 'import'],
    external,
    metafile: true,
    logLevel: 'silent',
  });
  let initial = 0;
  let lazy = 0;
  let min = 0;
  const entryOut = Object.entries(result.metafile.outputs).find(([, o]) => o.entryPoint)?.[0];
  const statics = new Set([entryOut]);
  // Everything reachable by static imports from the entry loads up front; dynamic-only chunks are lazy.
  for (let changed = true; changed; ) {
    changed = false;
    for (const name of [...statics]) for (const imp of result.metafile.outputs[name]?.imports ?? []) if (imp.kind === 'import-statement' && !imp.external && !statics.has(imp.path)) statics.add(imp.path), (changed = true);
  }
  for (const file of result.outputFiles) {
    const rel = file.path.slice(file.path.indexOf('out/'));
    const gz = gzipSync(file.contents, { level: 9 }).length;
    if (statics.has(rel)) (initial += gz), (min += file.contents.length);
    else lazy += gz;
  }
  return { initial, lazy, min };
}

export const entries = [
  { name: 'sessionkeeper', file: 'dist/index.js' },
  { name: 'sessionkeeper/oauth', file: 'dist/oauth.js' },
  { name: 'sessionkeeper/react', file: 'dist/react.js', external: ['react', 'react-dom', 'react/jsx-runtime'] },
  { name: 'sessionkeeper/vue', file: 'dist/vue.js', external: ['vue'] },
  { name: 'sessionkeeper/testing', file: 'dist/testing.js' },
  { name: 'CDN IIFE (core + oauth)', file: 'dist/sessionkeeper.iife.min.js' },
];

export async function report() {
  const rows = [];
  for (const e of entries) {
    const size = await measure(e.file, e);
    rows.push({ ...e, ...size, budget: pkg.sizeBudgets?.[e.name] });
  }
  return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const kb = (n) => `${(n / 1024).toFixed(2)} KB`;
  for (const r of await report()) {
    console.log(`${r.name.padEnd(26)} ${kb(r.initial).padStart(9)} min+gz up front${r.lazy ? ` (+${kb(r.lazy)} lazy)` : ''}   budget ${r.budget ? kb(r.budget) : '-'}`);
  }
}
