// Seeded randomness for the simulation: sfc32 (small, fast, good enough for schedules).
export function hashSeed(...parts) {
  let h = 0x811c9dc5
  for (const part of parts) {
    const s = String(part)
    for (let i = 0; i < s.length; i++) {
      h ^= s.charCodeAt(i)
      h = Math.imul(h, 0x01000193) >>> 0
    }
    h ^= 0xff
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h >>> 0
}

export function createRng(seed) {
  let a = hashSeed('a', seed), b = hashSeed('b', seed), c = hashSeed('c', seed), d = hashSeed('d', seed)
  const next = () => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0
    let t = (a + b) | 0
    a = b ^ (b >>> 9)
    b = (c + (c << 3)) | 0
    c = (c << 21) | (c >>> 11)
    d = (d + 1) | 0
    t = (t + d) | 0
    c = (c + t) | 0
    return (t >>> 0) / 4294967296
  }
  for (let i = 0; i < 12; i++) next()
  const rng = {
    next,
    /** Integer in [lo, hi]. */
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (items) => items[Math.floor(next() * items.length)],
    chance: (p) => next() < p,
    /** Weighted pick over [weight, value] pairs. */
    weighted(pairs) {
      let total = 0
      for (const [w] of pairs) total += w
      let x = next() * total
      for (const [w, v] of pairs) if ((x -= w) < 0) return v
      return pairs[pairs.length - 1][1]
    },
    token(n = 32) {
      const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
      let s = ''
      for (let i = 0; i < n; i++) s += abc[Math.floor(next() * abc.length)]
      return s
    },
  }
  return rng
}
