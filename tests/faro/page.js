// The test page's script, bundled by esbuild: the Faro Web SDK with its web instrumentations
// (errors, web vitals, session) and tracing, sending to the collector named in the query string.
import { faro, getWebInstrumentations, initializeFaro } from '@grafana/faro-web-sdk';
import { TracingInstrumentation } from '@grafana/faro-web-tracing';

const params = new URLSearchParams(location.search);
initializeFaro({
  url: params.get('collector'),
  apiKey: params.get('key'),
  app: { name: 'faro-browser-test', version: '1.2.3', environment: 'ci' },
  instrumentations: [...getWebInstrumentations(), new TracingInstrumentation()],
  batching: { sendTimeout: 100 },
});

faro.api.pushLog(['hello from chromium'], { context: { step: 'boot' } });
faro.api.pushEvent('checkout', { cart_items: '3' });
try {
  JSON.parse('{not json');
} catch (e) {
  faro.api.pushError(e);
}
// A same-origin fetch: the tracing instrumentation makes a span of it and sends traceparent.
fetch('/api/data')
  .then((r) => r.text())
  .then((t) => {
    faro.api.pushLog([`fetched ${t}`]);
    document.title = 'done';
  });
