/** What one round of a coalesced task asks for: `again`, another round; `stop`, none and no `after`. */
export type Round = void | 'again' | 'stop'

export interface Coalesced<A> {
  (arg?: A): Promise<void>
  /** A run is going. */
  running(): boolean
}

/**
 * Single-flight with a rerun: a call during a run joins it and has it go round once more, so a burst of
 * calls costs at most two rounds. `after` runs once the rounds are over; rounds are bounded.
 */
export function coalesce<A>(round: (arg: A | undefined) => Promise<Round>, after: () => void, rounds = 5): Coalesced<A> {
  let run: Promise<void> | null = null
  let again = false
  const call = (arg?: A): Promise<void> => {
    if (run) {
      again = true
      return run
    }
    return (run = (async () => {
      try {
        for (let i = 0; i < rounds; i++) {
          again = false
          const next = await round(arg)
          if (next === 'stop') return
          if (next !== 'again' && !again) break
        }
      } finally {
        run = null
      }
      after()
    })())
  }
  return Object.assign(call, { running: () => run !== null })
}
