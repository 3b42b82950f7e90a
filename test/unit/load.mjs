// Loads pure modules of src/ in Node: esbuild bundles the TypeScript source into one ESM module in memory.
import { build } from 'esbuild'

const root = new URL('../..', import.meta.url).pathname

/** Imports `src/<name>.ts` (bundled with what it imports). */
export async function load(name) {
  const result = await build({ entryPoints: [`${root}src/${name}.ts`], bundle: true, format: 'esm', platform: 'neutral', external: ['broadcast-channel', 'idb'], write: false, logLevel: 'silent' })
  return import(`data:text/javascript;base64,${Buffer.from(result.outputFiles[0].contents).toString('base64')}`)
}
