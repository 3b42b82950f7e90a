// Size budgets (architecture §4), checked on every `npm test` against the fresh build.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { report } from './size.mjs';

test('every entry is within its min+gzip budget', async () => {
  const rows = await report();
  for (const row of rows) {
    if (!existsSync(new URL(`../../${row.file}`, import.meta.url))) assert.fail(`${row.file} was not built`);
    assert.ok(row.budget, `no budget in package.json for ${row.name}`);
    console.log(`${row.name}: ${row.initial} B min+gz up front${row.lazy ? `, ${row.lazy} B lazy` : ''} (budget ${row.budget} B)`);
    assert.ok(row.initial <= row.budget, `${row.name} is ${row.initial} B min+gz, over its ${row.budget} B budget`);
  }
});
