#!/usr/bin/env node
// `npm test`: the one command. Runs every stage in order, stops at the first failure, and prints a
// per-stage summary with wall times and a final "N passed, N failed" line (counts of test cases).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

const root = new URL('..', import.meta.url).pathname;
const stages = [
  ['typecheck', 'npx', ['tsc', '-p', 'tsconfig.json', '--noEmit'], {}],
  ['typecheck tests', 'npx', ['tsc', '-p', 'test/tsconfig.json', '--noEmit'], {}],
  ['pure modules: refresh policy, idle deadlines, records (node)', 'node', ['--test', '--test-reporter=spec', 'test/unit/'], { counts: 'node' }],
  ['multi-tab simulation (node, deterministic)', 'node', ['--test', '--test-reporter=spec', 'test/sim/'], { counts: 'node' }],
  ['browser suites (Chromium + Firefox ESR + WebKit)', 'npx', ['web-test-runner', '--config', 'test/web-test-runner.config.mjs'], { counts: 'wtr' }],
  ['browser suites, React 18 (Chromium + Firefox ESR + WebKit)', 'npx', ['web-test-runner', '--config', 'test/web-test-runner.config.mjs'], { counts: 'wtr', env: { REACT_VERSION: '18', TEST_FILES: 'test/react/**/*.test.tsx' } }],
  ['build', 'npx', ['rollup', '-c', '--silent'], { env: { CI_QUIET: '1' } }],
  ['node: SSR imports, built bundles in Chromium + Firefox + WebKit, size budgets', 'node', ['--test', '--test-reporter=spec', 'test/node/'], { counts: 'node' }],
  ['e2e (playwright-core + oidc-provider; WebKit flows over WebDriver)', 'node', ['--test', '--test-concurrency=1', '--test-timeout=240000', '--test-force-exit', '--test-reporter=spec', 'test/e2e/'], { counts: 'node', when: 'test/e2e' }],
  ['publint', 'npx', ['publint', '--strict'], {}],
  ['are the types wrong', 'npx', ['attw', '--pack', '.', '--profile', 'esm-only', '--format', 'table-flipped'], {}],
];

let passed = 0;
let failed = 0;
const summary = [];
const started = Date.now();
for (const [title, cmd, args, opts] of stages) {
  if (opts.when && !existsSync(new URL(`../${opts.when}`, import.meta.url))) continue;
  const t0 = Date.now();
  console.log(`\n=== ${title}`);
  const { code, out } = await run(cmd, args, opts.env);
  const counts = parseCounts(opts.counts, out);
  passed += counts.passed;
  failed += counts.failed;
  const perBrowser = counts.browsers ? `: ${counts.browsers.map(([name, p, f]) => `${name} ${p}${f ? `/${f} failed` : ''}`).join(', ')}` : '';
  summary.push(`${code === 0 ? 'ok  ' : 'FAIL'} ${title} (${((Date.now() - t0) / 1000).toFixed(1)} s${counts.passed + counts.failed ? `, ${counts.passed} passed, ${counts.failed} failed${perBrowser}` : ''})`);
  if (code !== 0) {
    if (!counts.failed) failed += 1;
    break;
  }
}
console.log(`\n=== summary (${((Date.now() - started) / 1000).toFixed(1)} s)\n${summary.join('\n')}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);

function run(cmd, args, env) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const tee = (stream, sink) => stream.on('data', (d) => { out += d; sink.write(d); });
    tee(child.stdout, process.stdout);
    tee(child.stderr, process.stderr);
    child.on('close', (code) => resolve({ code: code ?? 1, out }));
  });
}

function parseCounts(kind, out) {
  // eslint-disable-next-line no-control-regex
  const text = out.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');
  if (kind === 'node') {
    const p = /^ℹ pass (\d+)/m.exec(text);
    const f = /^ℹ fail (\d+)/m.exec(text);
    return { passed: Number(p?.[1] ?? 0), failed: Number(f?.[1] ?? 0) };
  }
  if (kind === 'wtr') {
    // "Chromium: ... N passed, M failed" lines are per browser; web-test-runner prints totals per file set.
    // Each browser prints a progress line "<Browser>: ... N passed, M failed"; its last one is its total.
    const last = new Map();
    for (const m of text.matchAll(/^(\w+):\s.*?(\d+) passed, (\d+) failed/gm)) last.set(m[1], [Number(m[2]), Number(m[3])]);
    let passedN = 0;
    let failedN = 0;
    for (const [p, f] of last.values()) { passedN += p; failedN += f; }
    return { passed: passedN, failed: failedN, browsers: [...last].map(([name, [p, f]]) => [name, p, f]) };
  }
  return { passed: 0, failed: 0 };
}
