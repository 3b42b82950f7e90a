// web-test-runner plugin for the adapter suites.
//
// React ships CommonJS only, which browsers cannot import. This plugin pre-bundles every React module
// the tests and `src/react` import into ONE esbuild build with code splitting, so `react`,
// `react-dom/client`, `react/jsx-runtime`... share a single React instance (one set of hooks
// internals), and serves the result from memory under /__react-esm/.
//
//   REACT_VERSION=18  -> the `react-18` / `react-dom-18` aliases (npm:react@18) are bundled instead.
//
// Vue: `vue` resolves (through nodeResolve's `import` condition) to `vue.runtime.esm-bundler.js`,
// which reads `process.env.NODE_ENV` and so cannot run unbundled in a browser. This plugin points
// `vue` at its self-contained browser ESM build (`vue.runtime.esm-browser.js`, development mode).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { build } from 'esbuild';

const PREFIX = '/__react-esm/';

/** Import specifiers served as ESM -> the CommonJS module whose exports names it (browser flavour). */
const MODULES = {
  react: 'react',
  'react/jsx-runtime': 'react/jsx-runtime',
  'react/jsx-dev-runtime': 'react/jsx-dev-runtime',
  'react-dom': 'react-dom',
  'react-dom/client': 'react-dom/client',
  // In a browser `react-dom/server` is the `browser` export, i.e. server.browser.
  'react-dom/server': 'react-dom/server.browser',
  'react-dom/server.browser': 'react-dom/server.browser',
};

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/**
 * @param {{ version?: string }} [options] React major to serve; default `process.env.REACT_VERSION` or 19.
 */
export function reactEsm(options = {}) {
  const version = options.version ?? process.env.REACT_VERSION ?? '19';
  if (version !== '18' && version !== '19') throw new Error(`REACT_VERSION must be 18 or 19, got ${version}`);
  const alias = version === '18' ? { react: 'react-18', 'react-dom': 'react-dom-18' } : {};
  const aliased = (spec) => spec.replace(/^react(-dom)?(?=\/|$)/, (name) => alias[name] ?? name);
  /** @type {Map<string, string>} served path -> code */
  const files = new Map();
  let building;
  let rootDir = process.cwd();

  async function bundle() {
    const exportNames = await namesOf(rootDir, Object.keys(MODULES).map((spec) => aliased(MODULES[spec])), alias);
    const entryCode = (spec) => {
      const names = exportNames[aliased(MODULES[spec])].filter(
        (name) => IDENTIFIER.test(name) && name !== 'default' && name !== '__esModule',
      );
      // Explicit named exports: esbuild cannot know a CommonJS module's export names statically.
      return `import m from ${JSON.stringify(spec)};\nexport default m;\nexport const { ${names.join(', ')} } = m;\n`;
    };
    const result = await build({
      absWorkingDir: rootDir,
      entryPoints: Object.keys(MODULES).map((spec) => ({ in: `entry:${spec}`, out: fileName(spec) })),
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2020',
      outdir: PREFIX,
      write: false,
      alias,
      define: { 'process.env.NODE_ENV': '"development"' },
      chunkNames: 'chunk-[hash]',
      logLevel: 'error',
      plugins: [
        {
          name: 'react-esm-entries',
          setup(b) {
            b.onResolve({ filter: /^entry:/ }, (args) => ({ path: args.path.slice(6), namespace: 'react-esm-entry' }));
            b.onLoad({ filter: /.*/, namespace: 'react-esm-entry' }, (args) => ({
              contents: entryCode(args.path),
              resolveDir: rootDir,
              loader: 'js',
            }));
          },
        },
      ],
    });
    for (const file of result.outputFiles) files.set(file.path, file.text);
  }

  return {
    name: 'react-esm',
    async serverStart({ config }) {
      rootDir = config.rootDir;
      // Awaited: a failed pre-bundle stops the run with its error instead of failing every import.
      building = bundle();
      await building;
    },
    resolveImport({ source }) {
      if (Object.hasOwn(MODULES, source)) return `${PREFIX}${fileName(source)}.js`;
      if (source === 'vue') return '/node_modules/vue/dist/vue.runtime.esm-browser.js';
      return undefined;
    },
    async serve(context) {
      if (!context.path.startsWith(PREFIX)) return undefined;
      await building;
      const body = files.get(context.path);
      return body === undefined ? undefined : { body, type: 'js' };
    },
  };
}

/**
 * The export names of CommonJS modules, read in a child process: requiring React here would let it
 * patch the test runner's console.
 */
async function namesOf(rootDir, specs, alias) {
  // The alias applies inside the child too: react-dom-18 must load react-18, not the hoisted React 19.
  const script = `
    const Module = require('node:module');
    const alias = ${JSON.stringify(alias)};
    const resolve = Module._resolveFilename;
    Module._resolveFilename = function (request, ...rest) {
      const m = /^(react|react-dom)(?=\\/|$)/.exec(request);
      return resolve.call(this, m && alias[m[1]] ? alias[m[1]] + request.slice(m[1].length) : request, ...rest);
    };
    const out = {};
    for (const s of ${JSON.stringify(specs)}) out[s] = Object.keys(require(s));
    process.stdout.write(JSON.stringify(out), () => process.exit(0));`;
  // process.exit: react-dom/server keeps a MessageChannel open, so the child would never end by itself.
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], {
    cwd: rootDir,
    env: { ...process.env, NODE_ENV: 'development' },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return JSON.parse(stdout);
}

function fileName(spec) {
  return spec.replace(/[/.]/g, '__');
}
