// Span times are ISO 8601 UTC with up to microseconds (`2026-11-26T05:30:30.123456Z`, as prompt flow writes
// them); `Date` keeps only milliseconds, so these keep the fraction themselves. One reading for every layer.

/** Microseconds since the epoch of a span time (with or without `Z`, any fraction length up to 6 digits kept). */
export const spanTimeMicros = (time: string): number =>
  Date.parse(time.slice(0, 19) + 'Z') * 1000 + Number((/\.(\d+)/.exec(time)?.[1] ?? '').slice(0, 6).padEnd(6, '0'))

/** Seconds between two span times, to the microsecond. */
export const secondsBetween = (start: string, end: string): number => (spanTimeMicros(end) - spanTimeMicros(start)) / 1e6
