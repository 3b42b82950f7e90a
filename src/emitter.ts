/** Typed events. Handlers run synchronously in subscription order; a throwing handler is reported, not fatal. */
export interface Emitter<M> {
  on<K extends keyof M>(type: K, handler: (event: M[K]) => void): () => void
  emit<K extends keyof M>(type: K, event: M[K]): void
  clear(): void
}

export function createEmitter<M>(onError: (error: unknown) => void): Emitter<M> {
  const handlers = new Map<keyof M, Set<(event: never) => void>>()
  return {
    on(type, handler) {
      const entry = (event: never) => handler(event)
      let set = handlers.get(type)
      if (!set) handlers.set(type, (set = new Set()))
      set.add(entry)
      return () => void set.delete(entry)
    },
    emit(type, event) {
      for (const handler of [...(handlers.get(type) ?? [])]) {
        try {
          handler(event as never)
        } catch (error) {
          onError(error)
        }
      }
    },
    clear: () => handlers.clear(),
  }
}
