// Sends log lines with a real Loki client library, as an application would:
//   node send.js pino <base url> <tenant> <n>     pino + pino-loki: JSON push, structured metadata
//   node send.js winston <base url> <tenant> <n>  winston + winston-loki: snappy protobuf push
// Exits once the client has flushed; exit code 1 if it reported an error.
const [kind, base, tenant, nText] = process.argv.slice(2);
const n = Number(nText);
const line = (i) => `line ${i} \u00e9\t"q" \u{1F600} {"k":[1,2]}`;
const failures = [];

async function pinoClient() {
  const pino = require('pino');
  const { pinoLoki } = require('pino-loki');
  const stream = pinoLoki({
    host: base,
    batching: { interval: 0.2 },
    labels: { app: 'pino' },
    headers: { 'X-Scope-OrgID': tenant },
    structuredMetaKey: 'meta',
    silenceErrors: false,
  });
  const origError = console.error;
  console.error = (...args) => { failures.push(args.join(' ')); origError(...args); };
  const logger = pino({ base: null }, stream);
  for (let i = 0; i < n; i++) logger.info({ meta: { trace_id: `t${i}` }, i }, line(i));
  await new Promise((resolve) => { stream.on('close', resolve); stream.end(); });
}

async function winstonClient() {
  const winston = require('winston');
  const LokiTransport = require('winston-loki');
  const transport = new LokiTransport({
    host: base,
    labels: { app: 'winston' },
    json: false,
    batching: true,
    interval: 0.2,
    headers: { 'X-Scope-OrgID': tenant },
    gracefulShutdown: false,
    onConnectionError: (e) => failures.push(String(e)),
  });
  const logger = winston.createLogger({ transports: [transport] });
  for (let i = 0; i < n; i++) logger.info(line(i), { i });
  await transport.flush();
  logger.close();
}

const clients = { pino: pinoClient, winston: winstonClient };
if (!clients[kind]) throw new Error(`unknown client ${kind}`);
clients[kind]()
  .catch((e) => failures.push(String(e)))
  .finally(() => {
    if (failures.length) console.error(failures.join('\n'));
    process.exit(failures.length ? 1 : 0);
  });
