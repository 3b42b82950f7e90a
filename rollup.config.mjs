// Two builds:
//  1. ESM for bundlers: one file per public entry, shared code split into chunks (never duplicated),
//     dependencies left external (npm installs them), .d.ts + sourcemaps.
//  2. A minified IIFE for plain <script> pages: core + oauth with every dependency inlined, global `SessionKeeper`.
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import typescript from '@rollup/plugin-typescript';
import { nodeResolve } from '@rollup/plugin-node-resolve';
import terser from '@rollup/plugin-terser';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));
const external = [
  ...Object.keys(pkg.dependencies ?? {}),
  ...Object.keys(pkg.peerDependencies ?? {}),
].map((name) => new RegExp(`^${name}(/|$)`));

/** Every public entry: src/<entry>.ts -> dist/<entry>.js (see "exports" in package.json). */
export const entries = {
  index: 'src/index.ts',
  oauth: 'src/oauth/index.ts',
  react: 'src/react/index.ts',
  vue: 'src/vue/index.ts',
  // Test-only manual clock; ESM only (the CDN IIFE below is built from src/cdn.ts and leaves it out).
  testing: 'src/testing.ts',
};

const FALLBACK = 'sessionkeeper.bc-fallback.min.js';

/**
 * In the IIFE, `import('broadcast-channel')` becomes an import of the fallback file next to the script
 * (same origin as the script, so a `script-src 'self'` policy allows it).
 */
function cdnFallback() {
  return {
    name: 'cdn-fallback',
    resolveDynamicImport: (specifier) => (specifier === 'broadcast-channel' ? false : null),
    // renderDynamicImport wraps the original argument: a comma expression drops it for the file URL.
    renderDynamicImport: ({ targetModuleId }) =>
      targetModuleId === 'broadcast-channel' ? { left: 'import((', right: `, new URL('${FALLBACK}', __skScript || location.href).href))` } : null,
  };
}

/** Prints the Subresource-Integrity hash of the CDN bundle so the README/tag can pin it. */
function sri() {
  return {
    name: 'sri',
    generateBundle(_options, bundle) {
      for (const file of Object.values(bundle)) {
        if (file.type !== 'chunk') continue;
        const hash = createHash('sha384').update(file.code).digest('base64');
        this.emitFile({ type: 'asset', fileName: `${file.fileName}.sri`, source: `sha384-${hash}\n` });
        if (!process.env.CI_QUIET) console.log(`SRI ${file.fileName}: sha384-${hash}`);
      }
    },
  };
}

export default [
  {
    input: entries,
    external,
    output: {
      dir: 'dist',
      format: 'es',
      sourcemap: true,
      entryFileNames: '[name].js',
      chunkFileNames: 'chunks/[name]-[hash].js',
      // Rollup drops module-level directives; React Server Components need the client entry marked.
      banner: (chunk) => (chunk.isEntry && chunk.name === 'react' ? "'use client';" : ''),
    },
    plugins: [
      typescript({ tsconfig: './tsconfig.json', declaration: true, declarationDir: 'dist', sourceMap: true }),
    ],
  },
  {
    input: 'src/cdn.ts',
    output: {
      file: 'dist/sessionkeeper.iife.min.js',
      format: 'iife',
      name: 'SessionKeeper',
      sourcemap: true,
      // The script's own URL, taken while it runs: the lazy fallback below is loaded from beside it.
      intro: "var __skScript = typeof document === 'object' && document.currentScript ? document.currentScript.src : '';",
    },
    plugins: [
      cdnFallback(),
      nodeResolve({ browser: true }),
      typescript({ tsconfig: './tsconfig.json', declaration: false, declarationMap: false, outDir: 'dist', sourceMap: true }),
      terser({ compress: { passes: 2 }, format: { comments: false } }),
      sri(),
    ],
  },
  {
    // broadcast-channel's IndexedDB/localStorage transports for the CDN bundle, as a separate ES module
    // that only browsers without a native BroadcastChannel (Safari < 15.4) ever download.
    input: 'virtual:bc-fallback',
    output: { file: `dist/${FALLBACK}`, format: 'es', sourcemap: true },
    plugins: [
      { name: 'bc-fallback-entry', resolveId: (id) => (id === 'virtual:bc-fallback' ? id : null), load: (id) => (id === 'virtual:bc-fallback' ? "export { BroadcastChannel } from 'broadcast-channel'" : null) },
      nodeResolve({ browser: true }),
      terser({ compress: { passes: 2 }, format: { comments: false } }),
      sri(),
    ],
  },
];
