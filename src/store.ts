/** A minimal external store: `get` returns the same object until `set` replaces it. */
export interface Store<T> {
  get(): T
  set(next: T): void
  subscribe(listener: () => void): () => void
  /** Resolves with the first state, this one or a later one, that `done` accepts. */
  when(done: (state: T) => boolean): Promise<T>
}

export function createStore<T>(initial: T, onError: (error: unknown) => void): Store<T> {
  let state = initial
  const listeners = new Set<() => void>()
  const subscribe = (listener: () => void) => {
    // Wrap so the same function can subscribe twice and unsubscribe each independently.
    const entry = () => listener()
    listeners.add(entry)
    return () => void listeners.delete(entry)
  }
  return {
    get: () => state,
    set(next) {
      if (next === state) return
      state = next
      for (const listener of [...listeners]) {
        // One throwing subscriber must not starve the others (or break the session's own flow).
        try {
          listener()
        } catch (error) {
          onError(error)
        }
      }
    },
    subscribe,
    when: (done) =>
      new Promise((resolve) => {
        if (done(state)) return resolve(state)
        const off = subscribe(() => {
          if (done(state)) off(), resolve(state)
        })
      }),
  }
}
