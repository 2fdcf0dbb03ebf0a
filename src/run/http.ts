/**
 * The opt-in HTTP endpoint of `atomvisor run` (bound to 127.0.0.1 unless told otherwise: it tells
 * anyone who can reach it what runs here):
 *   GET /healthz  200 while the supervisor runs (503 once shutting down): the liveness of
 *                 atomvisor itself, not of the servers — they have their own probes.
 *   GET /readyz   200 when every configured replica serves (started, startup and readiness
 *                 probes passing); 503 with the reasons otherwise.
 *   GET /status   the replicas, their probes, leases and last errors, and coordinator stats (JSON).
 *   GET /metrics  Prometheus text exposition (prom-client).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Metrics } from './metrics.ts';
import type { RunStatus } from './status.ts';

export interface StatusEndpoint {
  /** `http://host:port` as bound (port 0 gets a free port). */
  readonly url: string;
  readonly address: AddressInfo;
  close(): Promise<void>;
}

export async function startEndpoint(
  options: { host: string; port: number },
  status: RunStatus,
  metrics: Metrics,
): Promise<StatusEndpoint> {
  const server = createServer((req, res) => {
    handle(req, res, status, metrics).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`internal error: ${(error as Error)?.message ?? String(error)}\n`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    address,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  status: RunStatus,
  metrics: Metrics,
): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
    res.end('method not allowed\n');
    return;
  }
  switch (path) {
    case '/healthz': {
      const ok = !status.shuttingDown;
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(ok ? 'ok\n' : 'shutting down\n');
      return;
    }
    case '/readyz': {
      const { ready, reasons } = status.readiness();
      res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(ready ? 'ready\n' : `not ready:\n${reasons.map((r) => `  ${r}\n`).join('')}`);
      return;
    }
    case '/status':
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
      res.end(`${JSON.stringify(status.toJSON(), null, 2)}\n`);
      return;
    case '/metrics': {
      const text = await metrics.scrape();
      res.writeHead(200, { 'content-type': metrics.contentType });
      res.end(text);
      return;
    }
    default:
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('not found: try /healthz, /readyz, /status, /metrics\n');
  }
}
