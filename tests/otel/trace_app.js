// A small instrumented application: a "frontend" service calls a "backend" service over real
// HTTP on loopback, W3C trace context in the headers; the backend queries its "db". Each
// service has its own TracerProvider with the OpenTelemetry JS SDK's OTLP trace exporter of
// the protocol asked for. Every request is one trace of three spans (client, server, db);
// every third request's db span fails with an exception event. Usage:
//   node trace_app.js <proto|json|grpc> <traces url> <requests>
// The URL is the full endpoint for HTTP (http://host:port/v1/traces), host:port for gRPC.
// Prints the spans as the SDK recorded them (JSON, one array), once every exporter has
// flushed successfully.
const http = require('http');
const { context, propagation, trace, SpanKind, SpanStatusCode } = require('@opentelemetry/api');
const { setGlobalErrorHandler, W3CTraceContextPropagator } = require('@opentelemetry/core');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const {
  TracerProvider,
  SimpleSpanProcessor,
  InMemorySpanExporter,
} = require('@opentelemetry/sdk-trace');

const [protocol, url, nText] = process.argv.slice(2);
const n = Number(nText);
const pkg = { proto: 'proto', json: 'http', grpc: 'grpc' }[protocol];
if (!pkg) throw new Error(`unknown protocol ${protocol}`);
const { OTLPTraceExporter } = require(`@opentelemetry/exporter-trace-otlp-${pkg}`);
propagation.setGlobalPropagator(new W3CTraceContextPropagator());

// The tenant: an X-Scope-OrgID header over HTTP, x-scope-orgid metadata over gRPC.
function tenant() {
  if (protocol !== 'grpc') return { headers: { 'X-Scope-OrgID': 'otel' } };
  const { Metadata } = require('@grpc/grpc-js');
  const metadata = new Metadata();
  metadata.set('x-scope-orgid', 'otel');
  return { metadata };
}

function service(name) {
  const recorded = new InMemorySpanExporter();
  const exporter = new OTLPTraceExporter({ url, ...tenant() });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({
      'service.name': name,
      'service.instance.id': `${name}-1`,
      'deployment.environment': 'test',
    }),
    spanProcessors: [
      new SimpleSpanProcessor({ exporter }),
      new SimpleSpanProcessor({ exporter: recorded }),
    ],
  });
  return { provider, recorded, tracer: provider.getTracer(`${name}-lib`, '1.2.3') };
}
const frontend = service('frontend');
const backend = service('backend');

// The backend: a server span per request, a db span under it.
const server = http.createServer((req, res) => {
  const parent = propagation.extract(context.active(), req.headers);
  const span = backend.tracer.startSpan(
    'GET /orders', {
      kind: SpanKind.SERVER,
      attributes: { 'http.request.method': 'GET', 'url.path': req.url, 'server.port': server.address().port },
    },
    parent);
  const i = Number(new URL(req.url, 'http://x').searchParams.get('i'));
  const db = backend.tracer.startSpan(
    'SELECT orders', {
      kind: SpanKind.CLIENT,
      attributes: { 'db.system.name': 'postgresql', 'db.query.text': 'SELECT * FROM orders WHERE id = $1', 'db.rows': i },
    },
    trace.setSpan(parent, span));
  if (i % 3 === 2) {
    db.recordException(new Error(`deadlock ${i}`));
    db.setStatus({ code: SpanStatusCode.ERROR, message: 'deadlock detected' });
  }
  db.end();
  span.setAttribute('http.response.status_code', 200);
  span.end();
  res.end('ok');
});

function call(i) {
  return new Promise((resolve, reject) => {
    const span = frontend.tracer.startSpan('GET', {
      kind: SpanKind.CLIENT,
      attributes: { 'http.request.method': 'GET', 'request.index': i, 'retry': false, 'ratio': 0.25 },
    });
    span.addEvent('dns done', { 'dns.ms': 0.5 });
    const headers = {};
    propagation.inject(trace.setSpan(context.active(), span), headers);
    const req = http.get(
      { host: '127.0.0.1', port: server.address().port, path: `/orders?i=${i}`, headers },
      (res) => {
        res.resume();
        res.on('end', () => {
          span.setAttribute('http.response.status_code', res.statusCode);
          span.end();
          resolve();
        });
      });
    req.on('error', reject);
  });
}

async function main() {
  const failures = [];
  setGlobalErrorHandler((e) => failures.push(`export: ${e}`));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  for (let i = 0; i < n; i++) await call(i);
  server.close();
  const spans = [];
  for (const s of [frontend, backend]) {
    await s.provider.forceFlush().catch((e) => failures.push(`flush: ${e}`));
    spans.push(...s.recorded.getFinishedSpans());
    await s.provider.shutdown();
  }
  if (failures.length) throw new Error(failures.join('; '));
  const ns = ([s, n]) => (BigInt(s) * 1000000000n + BigInt(n)).toString();
  console.log(JSON.stringify(spans.map((s) => ({
    traceId: s.spanContext().traceId,
    spanId: s.spanContext().spanId,
    parentSpanId: s.parentSpanContext ? s.parentSpanContext.spanId : '',
    name: s.name,
    kind: s.kind,
    start: ns(s.startTime),
    end: ns(s.endTime),
    attributes: s.attributes,
    status: s.status,
    events: s.events.map((e) => ({ name: e.name, time: ns(e.time), attributes: e.attributes || {} })),
    service: s.resource.attributes['service.name'],
    scope: s.instrumentationScope.name,
    scopeVersion: s.instrumentationScope.version,
  }))));
}

main().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
