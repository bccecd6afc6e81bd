/**
 * Ids of the spans pf's tracer starts. A trace id begins with its creation time: 48 bits of milliseconds since the
 * epoch, then 80 random bits (AWS X-Ray's ids put the time first the same way; W3C Trace Context level 2 asks only
 * the rightmost 7 bytes to be random). The store's indexes keyed by trace id (a span's trace and span id, a line
 * run's trace id, the trace list by tokens) then take new traces at their end instead of at random pages: a commit
 * writes a few pages where random ids touched one per trace, and traced calls into the local store cost ≈ 20 % less
 * (docs/benchmarks.md). Span ids stay random. Random bits come from Math.random, as OpenTelemetry's own generator's.
 */
export class TimeOrderedIdGenerator {
  private readonly traceId = Buffer.allocUnsafe(16)
  private readonly spanId = Buffer.allocUnsafe(8)

  generateTraceId(): string {
    this.traceId.writeUIntBE(Date.now(), 0, 6)
    fillRandom(this.traceId, 6)
    return this.traceId.toString('hex')
  }

  generateSpanId(): string {
    // Never all zeros (an invalid span id): the first byte is drawn from 1–255.
    fillRandom(this.spanId, 1)
    this.spanId[0] = 1 + Math.floor(Math.random() * 255)
    return this.spanId.toString('hex')
  }
}

const fillRandom = (bytes: Buffer, from: number): void => {
  for (let i = from; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256)
}
