// "Did you mean" suggestions for misspelt keys and enum values.

/** Edit distance (insert, delete, substitute; each costs 1). */
export function levenshtein(a: string, b: string): number {
  if (a === b) return 0;
  if (a.length === 0) return b.length;
  if (b.length === 0) return a.length;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j] + 1, current[j - 1] + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length];
}

/**
 * How far a typed key is from a valid one. Plain edit distance, except that when the words of
 * one (split on `_`/`-`) are all words of the other, the distance is the number of extra words:
 * `load_interval` is one word short of `load_adjustment_interval`, however many letters that is.
 */
export function keyDistance(word: string, candidate: string): number {
  const a = word.toLowerCase();
  const b = candidate.toLowerCase();
  const wordsA = new Set(a.split(/[_-]+/).filter(Boolean));
  const wordsB = new Set(b.split(/[_-]+/).filter(Boolean));
  const [small, large] = wordsA.size <= wordsB.size ? [wordsA, wordsB] : [wordsB, wordsA];
  if (small.size > 0 && [...small].every((w) => large.has(w))) return large.size - small.size;
  return levenshtein(a, b);
}

/**
 * The candidate closest to `word` (case-insensitive), ties broken by candidate order. Always
 * returns one when candidates exist: a distant suggestion still points the user at the list.
 */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = keyDistance(word, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}
