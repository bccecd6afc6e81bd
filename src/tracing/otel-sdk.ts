// The OpenTelemetry SDK parts pf runs, re-exported from one module so that the build bundles them into one file
// (scripts/bundle-sdks.js): ~35 ms less of every traced command's start than loading the packages' modules
// (docs/benchmarks.md).
// `@opentelemetry/api` stays outside the bundle: user code and instrumentations share its global registry.
export {NodeTracerProvider} from '@opentelemetry/sdk-trace-node'
export {resourceFromAttributes} from '@opentelemetry/resources'
