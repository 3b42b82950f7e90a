/** A minimal external store: `get` returns the same object until `set` replaces it. */
export interface Store<T> {
  get(): T
  set(next: T): void
  subscribe(listener: () => void): () => void
}

export function createStore<T>(initial: T, onError: (error: unknown) => void): Store<T> {
  let state = initial
  const listeners = new Set<() => void>()
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
    subscribe(listener) {
      // Wrap so the same function can subscribe twice and unsubscribe each independently.
      const entry = () => listener()
      listeners.add(entry)
      return () => void listeners.delete(entry)
    },
  }
}
