// Bundles the real sessionkeeper sources (src/index.ts + src/oauth/index.ts) with esbuild into one ESM
// file and imports it. The few ambient sources of time and randomness the SDK touches are redirected
// to the simulation (`globalThis.__SIM__`) at build time, so no global is patched and every tab of a
// run reads the same virtual clock and the same seeded PRNG.
import { build } from 'esbuild'
import { mkdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

const root = new URL('../..', import.meta.url).pathname

/** Replaced identifiers: everything else the SDK uses is injected through SessionOptions. */
export const DEFINES = {
  'Date.now': '__SIM__.now',
  'Math.random': '__SIM__.random',
  'crypto.getRandomValues': '__SIM__.getRandomValues',
  'performance.now': '__SIM__.monotonic',
  queueMicrotask: '__SIM__.queueMicrotask',
  'globalThis.fetch': '__SIM__.fetch',
  setTimeout: '__SIM__.realTimerUsed',
  clearTimeout: '__SIM__.realTimerUsed',
}

/**
 * The session's own IndexedDB adapter (what it creates when no `storage` is injected, and closes on the
 * last stop) becomes the simulated one; the memory adapter stays the real one. So the sim exercises the
 * production ownership: created lazily, closed by stop(), re-created by the next start().
 */
const simStorage = {
  name: 'sim-storage',
  setup(b) {
    b.onResolve({ filter: /token-storage\.js$/ }, (args) => (/(session|persistence)\.ts$/.test(args.importer) ? { path: 'sim-token-storage', namespace: 'sim' } : undefined))
    b.onLoad({ filter: /.*/, namespace: 'sim' }, () => ({
      resolveDir: join(root, 'src'),
      loader: 'ts',
      contents: `export { createMemoryStorage } from './token-storage.js'
export const createIndexedDBStorage = (name, clock) => __SIM__.createIndexedDBStorage(name, clock)`,
    }))
  },
}

let loaded
export function loadSdk() {
  return (loaded ??= (async () => {
    const entry = `export * from ${JSON.stringify(join(root, 'src/index.ts'))}\nexport * as oauth from ${JSON.stringify(join(root, 'src/oauth/index.ts'))}\n`
    const result = await build({
      stdin: { contents: entry, resolveDir: root, loader: 'ts', sourcefile: 'sim-entry.ts' },
      bundle: true,
      format: 'esm',
      platform: 'neutral',
      target: 'es2022',
      write: false,
      external: ['broadcast-channel'],
      mainFields: ['module', 'main'],
      define: DEFINES,
      plugins: [simStorage],
      logLevel: 'silent',
    })
    const dir = join(tmpdir(), `sessionkeeper-sim-${process.pid}`)
    mkdirSync(dir, { recursive: true })
    const file = join(dir, 'sdk.mjs')
    writeFileSync(file, result.outputFiles[0].text)
    return import(pathToFileURL(file).href)
  })())
}
