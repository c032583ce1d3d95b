// Sends metrics, logs and spans with the OpenTelemetry JS SDK's own OTLP exporters, as an
// instrumented application would. Usage:
//   node send.js <proto|json|grpc> <service> <metrics url|-> <logs url|-> <traces url|-> <n>
// URLs are full endpoints for HTTP (http://host:port/v1/metrics) and host:port URLs for gRPC.
// Prints {"logs": n, "spans": n} once every exporter has flushed successfully.
const { SeverityNumber } = require('@opentelemetry/api-logs');
const { setGlobalErrorHandler } = require('@opentelemetry/core');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { MeterProvider, PeriodicExportingMetricReader } = require('@opentelemetry/sdk-metrics');
const { LoggerProvider, SimpleLogRecordProcessor } = require('@opentelemetry/sdk-logs');
const { TracerProvider, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace');

const [protocol, service, metricsUrl, logsUrl, tracesUrl, nText] = process.argv.slice(2);
const n = Number(nText);
const pkg = { proto: 'proto', json: 'http', grpc: 'grpc' }[protocol];
if (!pkg) throw new Error(`unknown protocol ${protocol}`);
const exporter = (signal) => require(`@opentelemetry/exporter-${signal}-otlp-${pkg}`);

const resource = resourceFromAttributes({
  'service.name': service,
  'service.instance.id': `${service}-1`,
  'deployment.environment': 'test',
});
const headers = protocol === 'grpc' ? {} : { headers: { 'X-Scope-OrgID': 'otel' } };

async function main() {
  const failures = [];
  // Export failures of the simple processors go to the global error handler.
  setGlobalErrorHandler((e) => failures.push(`export: ${e}`));
  const watch = (p, what) => p.catch((e) => failures.push(`${what}: ${e}`));
  if (metricsUrl !== '-') {
    const { OTLPMetricExporter } = exporter('metrics');
    const reader = new PeriodicExportingMetricReader({
      exporter: new OTLPMetricExporter({ url: metricsUrl, ...headers }),
      exportIntervalMillis: 60_000,
    });
    const provider = new MeterProvider({ resource, readers: [reader] });
    const meter = provider.getMeter('strata-test', '1.0.0');
    const requests = meter.createCounter('strata.test.requests', { unit: '{request}' });
    requests.add(n, { 'http.route': '/checkout' });
    const duration = meter.createHistogram('strata.test.duration', { unit: 's' });
    for (const v of [0.004, 0.2, 3]) duration.record(v, { 'http.route': '/checkout' });
    const temperature = meter.createObservableGauge('strata.test.temperature', { unit: 'Cel' });
    temperature.addCallback((r) => r.observe(21.5, { room: 'lab' }));
    await watch(provider.forceFlush(), 'metrics flush');
    await provider.shutdown();
  }
  if (logsUrl !== '-') {
    const { OTLPLogExporter } = exporter('logs');
    const provider = new LoggerProvider({
      resource,
      processors: [
        new SimpleLogRecordProcessor({ exporter: new OTLPLogExporter({ url: logsUrl, ...headers }) }),
      ],
    });
    const logger = provider.getLogger('strata-test');
    for (let i = 0; i < n; i++) {
      logger.emit({ severityNumber: SeverityNumber.INFO, body: `line ${i}`, attributes: { i } });
    }
    await watch(provider.forceFlush(), 'logs flush');
    await provider.shutdown();
  }
  if (tracesUrl !== '-') {
    const { OTLPTraceExporter } = exporter('trace');
    const provider = new TracerProvider({
      resource,
      spanProcessors: [
        new SimpleSpanProcessor({ exporter: new OTLPTraceExporter({ url: tracesUrl, ...headers }) }),
      ],
    });
    const tracer = provider.getTracer('strata-test');
    for (let i = 0; i < n; i++) tracer.startSpan(`op ${i}`, { attributes: { i } }).end();
    await watch(provider.forceFlush(), 'traces flush');
    await provider.shutdown();
  }
  if (failures.length) throw new Error(failures.join('; '));
  console.log(JSON.stringify({ logs: logsUrl === '-' ? 0 : n, spans: tracesUrl === '-' ? 0 : n }));
}

main().catch((e) => {
  console.error(`send.js: ${e.stack || e}`);
  process.exit(1);
});
