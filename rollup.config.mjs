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
};

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
      // The broadcast-channel fallback is a lazy chunk in ESM; a single <script> has to carry it inline.
      inlineDynamicImports: true,
    },
    plugins: [
      nodeResolve({ browser: true }),
      typescript({ tsconfig: './tsconfig.json', declaration: false, declarationMap: false, outDir: 'dist', sourceMap: true }),
      terser({ compress: { passes: 2 }, format: { comments: false } }),
      sri(),
    ],
  },
];
