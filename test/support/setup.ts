// Imported first by every browser test file. Installs the leak tracker and a root afterEach hook that
// fails the test if anything it opened (timers, listeners, channels, DB connections, locks) is still open.
import { installLeakTracker, leakedSince, snapshot } from './leaks'

installLeakTracker()

let before = snapshot()
beforeEach(() => {
  before = snapshot()
})
afterEach(async function () {
  // Let closes that complete asynchronously (IDB close events, lock releases) settle: bounded, ~100 ms.
  let leaks: string[] = []
  for (let i = 0; i < 10; i++) {
    leaks = leakedSince(before)
    if (leaks.length === 0) return
    await new Promise((r) => setTimeout(r, 0))
    await new Promise((r) => setTimeout(r, 10))
  }
  throw new Error(`"${this.currentTest?.title}" left resources open:\n  ${leaks.join('\n  ')}`)
})
