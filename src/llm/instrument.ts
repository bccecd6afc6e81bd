/** Moved to src/tracing/openai-instrument.ts (startTrace() in pf/sdk instruments openai too, and sdk sits below llm). */
export * from '../tracing/openai-instrument.js'
