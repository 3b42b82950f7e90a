#!/usr/bin/env node
// `npm run bench`: runs every test/bench/*.mjs except this dispatcher, one after another.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('.', import.meta.url));
const self = fileURLToPath(import.meta.url).split('/').pop();
let failed = 0;
for (const file of readdirSync(dir).filter((f) => f.endsWith('.mjs') && f !== self).sort()) {
  console.log(`\n=== bench ${file}`);
  const { status } = spawnSync(process.execPath, [`${dir}${file}`, ...process.argv.slice(2)], { stdio: 'inherit' });
  if (status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
