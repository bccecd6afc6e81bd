import {closest, distance} from 'fastest-levenshtein'

/** The candidate nearest to `word` when it is near enough to be a typo of it (a "did you mean"), else undefined. */
export const nearest = (word: string, candidates: readonly string[]): string | undefined => {
  if (candidates.length === 0) return undefined
  const best = closest(word, candidates)
  const near = distance(word, best) <= Math.max(2, Math.floor(word.length / 3)) || best.startsWith(word) || word.startsWith(best)
  return near ? best : undefined
}
