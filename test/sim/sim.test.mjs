// node --test test/sim/: the deterministic multi-tab simulation.
//  - every scenario of scenarios.mjs (known defects are `todo` until their entry leaves known-defects.mjs)
//  - determinism: one seed twice gives the same trace hash
//  - random schedules (SIM_RUNS, SIM_SEED, SIM_TABS, SIM_STRICT=1 to fail on known defects too)
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { runSchedule, generate, shrink, format } from './sim.mjs'
import { classify, KNOWN_DEFECTS } from './known-defects.mjs'
import { SCENARIOS } from './scenarios.mjs'

const RUNS = Number(process.env.SIM_RUNS ?? 400)
const SEED = Number(process.env.SIM_SEED ?? 1)
const TABS = Number(process.env.SIM_TABS ?? 10)
const STRICT = process.env.SIM_STRICT === '1'

for (const sc of SCENARIOS) {
  const known = !STRICT && sc.defect && KNOWN_DEFECTS.find((d) => d.id === sc.defect)
  test(sc.name, { todo: known ? `known defect ${known.id}: ${known.reason}` : false }, async () => {
    const r = await runSchedule({ config: sc.config, commands: sc.commands, seed: sc.seed ?? 1, final: sc.final ?? true })
    const bad = r.violations.filter((v) => sc.invariants === 'all' || sc.invariants.includes(v.inv))
    assert.deepEqual(bad.map((v) => `${v.inv}: ${v.detail}`), [], `schedule:\n${format({ config: r.config, commands: sc.commands })}`)
    if (sc.expect) assert.deepEqual(sc.expect(r.world), sc.expected)
  })
}

test('determinism: the same seed gives the same trace', async () => {
  for (const seed of [SEED, SEED + 1]) {
    const schedule = generate(seed, { maxTabs: TABS })
    const a = await runSchedule(schedule)
    const b = await runSchedule(schedule)
    assert.equal(a.hash, b.hash, `seed ${seed}: two runs differ`)
    assert.equal(a.events, b.events)
  }
})

test(`random schedules (${RUNS} from seed ${SEED}, up to ${TABS} tabs)`, async (t) => {
  const started = Date.now()
  let steps = 0
  let events = 0
  const known = new Map()
  const failures = []
  for (let seed = SEED; seed < SEED + RUNS; seed++) {
    const schedule = generate(seed, { maxTabs: TABS })
    const r = await runSchedule(schedule)
    steps += r.steps
    events += r.events
    const { unexpected, knownHits } = classify(r, { strict: STRICT })
    for (const [id] of knownHits) known.set(id, (known.get(id) ?? 0) + 1)
    if (unexpected.length && failures.length < 1) {
      const first = unexpected[0]
      const minimal = await shrink(schedule, (x) => classify(x, { strict: STRICT }).unexpected.some((v) => v.inv === first.inv), { budget: 200 })
      failures.push(`seed ${seed}: ${first.inv}: ${first.detail}\nminimal schedule:\n${format(minimal)}\nreplay: npm run sim -- --only-seed ${seed} --tabs ${TABS}${STRICT ? ' --strict' : ''}`)
    } else if (unexpected.length) failures.push(`seed ${seed}: ${unexpected[0].inv}: ${unexpected[0].detail}`)
  }
  const secs = ((Date.now() - started) / 1000).toFixed(1)
  t.diagnostic(`schedules ${RUNS}, steps ${steps}, events ${events}, seeds ${SEED}..${SEED + RUNS - 1}, ${secs} s`)
  for (const d of KNOWN_DEFECTS) t.diagnostic(`known defect ${d.id}: ${known.get(d.id) ?? 0} schedule(s) (not failed: ${d.reason})`)
  console.log(`sim: schedules ${RUNS}, steps ${steps}, events ${events}, seed ${SEED}, ${secs} s; known-defect hits: ${[...known].map(([k, n]) => `${k}=${n}`).join(' ') || 'none'}`)
  assert.deepEqual(failures, [])
})
