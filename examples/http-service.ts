/**
 * Example: a `node:http` service that embeds the coordinator in front of a pool of stdio JSON-RPC
 * servers (three replicas of examples/servers/text-server.mjs).
 *
 *   npm install atomvisor tsx
 *   cp -r node_modules/atomvisor/examples . && npx tsx examples/http-service.ts   # PORT=8080 to pick
 *   curl -s localhost:PORT/upper -d '{"text":"hello"}'
 *   curl -s localhost:PORT/session -d '{"key":"a","value":1}'   # two calls on one process
 *   curl -s localhost:PORT/readyz
 *   curl -s localhost:PORT/metrics                              # Prometheus
 *
 * It imports the package as your service would ('atomvisor', 'atomvisor/metrics'); a test runs
 * it from the packed tarball (test/package/examples.test.ts).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createCoordinator } from 'atomvisor';
import { createMetrics } from 'atomvisor/metrics';

const server = (name: string) => fileURLToPath(new URL(`./servers/${name}`, import.meta.url));

const coordinator = createCoordinator({
  acquireTimeoutMs: 2_000, // a request waits at most this long for a free replica, then 503
  stop: { stdinGraceMs: 1_000, termGraceMs: 1_000 },
});

// The same spec a config file's `servers.text` takes (docs/run.md).
await coordinator.register(
  'text',
  {
    command: process.execPath,
    args: [server('text-server.mjs')],
    initialize: { method: 'initialize', params: { protocolVersion: '2025-06-18' } },
    liveness: { kind: 'jsonrpc', method: 'ping', periodMs: 5_000 },
  },
  { replicas: 3 },
);
await coordinator.register('kv', { command: process.execPath, args: [server('kv-server.mjs')] });

// Requests, leases (wait and hold), probes, restarts, replicas by status: docs/run.md lists them.
// Pass `{ registry }` to add them to your service's own prom-client registry.
const metrics = createMetrics(coordinator);

async function body(req: IncomingMessage): Promise<Record<string, unknown>> {
  let text = '';
  for await (const chunk of req) text += chunk;
  return text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
}

function reply(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(`${JSON.stringify(value)}\n`);
}

let closing = false;

const http = createServer(async (req, res) => {
  // The client going away aborts its request: the server gets notifications/cancelled.
  const abort = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) abort.abort(new Error('client went away'));
  });
  try {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path === '/healthz') return reply(res, closing ? 503 : 200, { ok: !closing });
    if (path === '/readyz') {
      const ready =
        !closing && coordinator.keys().every((k) => coordinator.snapshot(k).status === 'ready');
      return reply(res, ready ? 200 : 503, { ready });
    }
    if (path === '/upper' && req.method === 'POST') {
      // Any ready replica, the least busy one.
      const { text } = await body(req);
      const result = await coordinator.request(
        'text',
        'upper',
        { text },
        {
          timeoutMs: 5_000,
          signal: abort.signal,
        },
      );
      return reply(res, 200, result);
    }
    if (path === '/session' && req.method === 'POST') {
      // Exclusive use of one process for a sequence of calls (read your own write).
      const { key, value } = await body(req);
      const result = await coordinator.withConnection('kv', async (lease) => {
        await lease.request('set', { key, value });
        return lease.request('get', { key });
      });
      return reply(res, 200, result);
    }
    if (path === '/stats') return reply(res, 200, coordinator.stats());
    if (path === '/metrics') {
      res.writeHead(200, { 'content-type': metrics.contentType });
      return res.end(await metrics.scrape());
    }
    return reply(res, 404, { error: 'not found' });
  } catch (error) {
    const code = (error as { code?: string }).code ?? 'internal';
    const status =
      code === 'ERR_ATOMVISOR_QUEUE_FULL' || code === 'ERR_ATOMVISOR_TIMEOUT' ? 503 : 502;
    return reply(res, status, { error: code, message: (error as Error).message });
  }
});

http.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const { port } = http.address() as AddressInfo;
  console.log(JSON.stringify({ event: 'listening', url: `http://127.0.0.1:${port}` }));
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, async () => {
    closing = true;
    http.close(); // no new connections; open ones finish
    metrics.close();
    await coordinator.close({ timeoutMs: 5_000 }); // in-flight work finishes, then processes stop
    http.closeAllConnections();
    console.log(JSON.stringify({ event: 'closed', signal }));
  });
}
