/** Moved to src/tracing/openai-tracing.ts (see src/tracing/openai-instrument.ts). */
export * from '../tracing/openai-tracing.js'
