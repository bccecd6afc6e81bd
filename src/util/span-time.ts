// Span times are ISO 8601 UTC with up to microseconds (`2026-11-26T05:30:30.123456Z`, as prompt flow writes
// them); `Date` keeps only milliseconds, so these keep the fraction themselves. One reading for every layer.

/** Microseconds since the epoch of a span time (with or without `Z`, any fraction length up to 6 digits kept). */
export const spanTimeMicros = (time: string): number => {
  // A trace's spans start and end within the same second, read in turns: parse that second once.
  const second = time.slice(0, 19)
  if (second !== lastSecond) {
    lastSecond = second
    lastSecondMicros = Date.parse(second + 'Z') * 1000
  }
  let fraction = 0
  let digits = 0
  if (time.charCodeAt(19) === 46 /* . */)
    for (; digits < 6; digits++) {
      const digit = time.charCodeAt(20 + digits) - 48
      if (!(digit >= 0 && digit <= 9)) break
      fraction = fraction * 10 + digit
    }
  for (; digits < 6; digits++) fraction *= 10
  return lastSecondMicros + fraction
}

let lastSecond = ''
let lastSecondMicros = Number.NaN

/** Seconds between two span times, to the microsecond. */
export const secondsBetween = (start: string, end: string): number => (spanTimeMicros(end) - spanTimeMicros(start)) / 1e6
