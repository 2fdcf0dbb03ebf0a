/**
 * Real sockets for the probe tests: an HTTP server on 127.0.0.1 whose answer the test sets (a
 * status, or no answer at all), and a TCP port that is closed until the test opens it.
 */
import { createServer as createHttpServer, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type Server } from 'node:net';
import { type Coordinator, type CoordinatorOptions, createCoordinator } from '../../src/index.ts';
import { fixture } from '../helpers/processes.ts';

export const PROBES = fixture('probe-modules.mjs');

export interface TestHttpServer {
  url: string;
  /** The status to answer with, or 'hang' to never answer. */
  mode: number | 'hang';
  hits: number;
  close(): Promise<void>;
}

export async function httpServer(mode: number | 'hang' = 200): Promise<TestHttpServer> {
  const hanging = new Set<ServerResponse>();
  const state = { mode, hits: 0 };
  const server = createHttpServer((_req, res) => {
    state.hits++;
    if (state.mode === 'hang') {
      hanging.add(res);
      return;
    }
    res.statusCode = state.mode;
    if (state.mode >= 300 && state.mode < 400) res.setHeader('location', '/elsewhere');
    res.end('probe\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/healthz`,
    get mode() {
      return state.mode;
    },
    set mode(m) {
      state.mode = m;
    },
    get hits() {
      return state.hits;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A free TCP port on 127.0.0.1 (closed now); `listen()` opens it. */
export async function tcpPort(): Promise<{
  port: number;
  listen(): Promise<void>;
  close(): Promise<void>;
}> {
  const probe = createTcpServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  let server: Server | undefined;
  return {
    port,
    listen: async () => {
      server = createTcpServer((socket) => socket.destroy());
      await new Promise<void>((resolve) => server?.listen(port, '127.0.0.1', resolve));
    },
    close: () =>
      new Promise<void>((resolve) =>
        server === undefined ? resolve() : server.close(() => resolve()),
      ),
  };
}

const open: Coordinator[] = [];
const cleanups: (() => Promise<void>)[] = [];

export function coordinator(options: CoordinatorOptions = {}): Coordinator {
  const c = createCoordinator({
    stop: { stdinGraceMs: 200, termGraceMs: 200 },
    restart: { initialDelayMs: 10, maxDelayMs: 100 },
    ...options,
  });
  open.push(c);
  return c;
}

export function onCleanup(fn: () => Promise<void>): void {
  cleanups.push(fn);
}

export async function cleanup(): Promise<void> {
  await Promise.all(open.splice(0).map((c) => c.close({ timeoutMs: 1_000 })));
  await Promise.all(cleanups.splice(0).map((fn) => fn()));
}
