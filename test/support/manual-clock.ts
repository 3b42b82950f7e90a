// The manual clock the suites use is the public one (sessionkeeper/testing); this keeps the tests'
// `createManualClock(start?: number)` call shape.
import { createManualClock as create, type ManualClock } from '../../src/testing'

export { settled, type ManualClock } from '../../src/testing'

/** A manual clock whose wall clock starts at `start` (epoch ms; default 2026-01-01T00:00Z). */
export function createManualClock(start?: number): ManualClock {
  return create(start === undefined ? {} : { now: start })
}
