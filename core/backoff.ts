/** Exponential backoff with jitter: each delay is drawn in [d/2, d], d doubling from `baseMs` to `maxMs`. */
export interface Backoff {
  next(): number;
  reset(): void;
}

export function createBackoff(baseMs: number, maxMs: number, random: () => number = Math.random): Backoff {
  let attempt = 0;
  return {
    next() {
      const d = Math.min(maxMs, baseMs * 2 ** attempt);
      attempt = Math.min(attempt + 1, 30);
      return Math.round(d / 2 + (random() * d) / 2);
    },
    reset() {
      attempt = 0;
    },
  };
}
