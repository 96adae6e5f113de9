/**
 * The local collector of bench/http.bench.ts, in a process of its own (its work must not share an
 * event loop with what is measured): accepts POSTed NDJSON on 127.0.0.1, counts the lines and
 * answers 200 after HTTP_COLLECTOR_DELAY_MS (default 1) per request, as an ingest endpoint that
 * acknowledges after a short write would. GET /stats returns what arrived since the last GET
 * /reset. Tells its parent the port over IPC.
 */
import http from 'node:http';

const DELAY_MS = Number(process.env['HTTP_COLLECTOR_DELAY_MS'] ?? 1);
const NL = 0x0a;

let lines = 0;
let requests = 0;
let maxInFlight = 0;
let inFlight = 0;

const server = http.createServer((req, res) => {
  if (req.method === 'GET') {
    if (req.url === '/reset') lines = requests = maxInFlight = 0;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ lines, requests, maxInFlight }));
    return;
  }
  inFlight++;
  if (inFlight > maxInFlight) maxInFlight = inFlight;
  let count = 0;
  req.on('data', (chunk: Buffer) => {
    for (let i = chunk.indexOf(NL); i !== -1; i = chunk.indexOf(NL, i + 1)) count++;
  });
  req.on('end', () => {
    setTimeout(() => {
      lines += count;
      requests++;
      inFlight--;
      res.statusCode = 200;
      res.end();
    }, DELAY_MS);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  process.send?.({ port: address.port });
});
process.on('disconnect', () => process.exit(0));
