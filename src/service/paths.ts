/** URL paths of the trace viewer, shared by the server, the service commands and the links pf prints. */
export const healthPath = '/v1.0/health'
export const uiPath = '/v1.0/ui/traces/'
/** The OTLP/HTTP trace receiver (OpenTelemetry SDKs' default path). */
export const collectorPath = '/v1/traces'
