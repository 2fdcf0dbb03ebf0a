/**
 * A real MCP server from the npm registry (the devDependency @modelcontextprotocol/server-everything,
 * started with plain `node` in stdio mode) supervised end to end: the MCP handshake on start,
 * requests through leases and plain `request`, progress, and after a SIGKILL a restart that
 * handshakes again before it serves anyone.
 *
 * Nothing here is a fixture of ours: the server is the MCP SDK's own stdio transport, so this is
 * what a user who points atomvisor at an MCP server gets.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConnectionSpec } from '../../src/index.ts';
import { coordinatorsFor } from '../helpers/coordinators.ts';
import { isAlive, waitUntil } from '../helpers/processes.ts';

const SERVER_PACKAGE = '@modelcontextprotocol/server-everything';

/** The server's JS entry, found the way npm links it: the package's own `bin`. */
function serverEntry(): string {
  const manifest = createRequire(import.meta.url).resolve(`${SERVER_PACKAGE}/package.json`);
  const { bin } = JSON.parse(readFileSync(manifest, 'utf8')) as {
    bin: string | Record<string, string>;
  };
  const relative = typeof bin === 'string' ? bin : Object.values(bin)[0];
  if (relative === undefined) throw new Error(`${SERVER_PACKAGE} declares no bin`);
  return join(dirname(manifest), relative);
}

const ENTRY = serverEntry();
/** A protocol version the server's SDK supports (it answers with the one we ask for). */
const PROTOCOL_VERSION = '2025-06-18';
const INITIALIZE_PARAMS = {
  protocolVersion: PROTOCOL_VERSION,
  capabilities: {},
  clientInfo: { name: 'atomvisor-test', version: '0' },
};

function mcpSpec(): ConnectionSpec {
  return {
    command: process.execPath,
    args: [ENTRY, 'stdio'],
    initialize: {
      method: 'initialize',
      params: INITIALIZE_PARAMS,
      notification: { method: 'notifications/initialized' },
    },
  };
}

interface ToolResult {
  content: { type: string; text: string }[];
}

const echo = (message: string) => ({ name: 'echo', arguments: { message } });
/** A tool call that runs for `seconds` (server-everything's long-running operation). */
const longRunning = (seconds: number, steps = 5) => ({
  name: 'trigger-long-running-operation',
  arguments: { duration: seconds, steps },
});

const coordinators = coordinatorsFor({
  stop: { stdinGraceMs: 1_000, termGraceMs: 1_000 },
  restart: { initialDelayMs: 50, maxDelayMs: 200 },
});
const coordinator = coordinators.make;

afterEach(async () => {
  await coordinators.closeAll();
});

describe('a real MCP server (server-everything over stdio)', () => {
  it('handshakes on start and serves tools/list, tools/call (leased), ping and progress', async () => {
    const c = coordinator();
    const readies: unknown[] = [];
    c.on('ready', (e) => readies.push(e));
    await c.register('mcp', mcpSpec());

    const snap = c.snapshot('mcp');
    expect(snap.status).toBe('ready');
    const replica = snap.replicas[0];
    expect(replica).toMatchObject({ status: 'ready', generation: 1, restarts: 0 });
    expect(isAlive(replica?.pid as number)).toBe(true);
    // The handshake is the server's initialize result, kept as it came.
    expect(replica?.handshake).toMatchObject({
      protocolVersion: PROTOCOL_VERSION,
      capabilities: { tools: expect.any(Object), resources: expect.any(Object) },
      serverInfo: { name: 'mcp-servers/everything', version: expect.any(String) },
    });
    expect(readies).toEqual([
      expect.objectContaining({ key: 'mcp', generation: 1, pid: replica?.pid }),
    ]);

    // Plain request: the tool list.
    const { tools } = await c.request<{ tools: { name: string }[] }>('mcp', 'tools/list');
    const names = tools.map((t) => t.name);
    expect(names).toContain('echo');
    expect(names).toContain('trigger-long-running-operation');

    // A tool call through an exclusive lease, on the same process the snapshot shows.
    const leased = await c.withConnection('mcp', async (lease) => {
      expect(lease.pid).toBe(replica?.pid);
      expect(c.snapshot('mcp').status).toBe('leased');
      return lease.request<ToolResult>('tools/call', echo('through a lease'));
    });
    expect(leased.content).toEqual([{ type: 'text', text: 'Echo: through a lease' }]);
    expect(c.snapshot('mcp').status).toBe('ready');

    // Many concurrent calls multiplexed over the one stdio connection.
    const many = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        c.request<ToolResult>('mcp', 'tools/call', echo(`m${i}`)),
      ),
    );
    expect(many.map((r) => r.content[0]?.text)).toEqual(
      Array.from({ length: 50 }, (_, i) => `Echo: m${i}`),
    );

    expect(await c.request('mcp', 'ping')).toEqual({});
    await expect(c.request('mcp', 'no/such/method')).rejects.toMatchObject({
      code: 'ERR_ATOMVISOR_JSONRPC',
      rpcCode: -32601,
    });

    // MCP progress: the coordinator adds a progress token; the server reports each step.
    const progress: unknown[] = [];
    const done = await c.request<ToolResult>('mcp', 'tools/call', longRunning(0.3, 3), {
      onProgress: (p) => progress.push(p),
    });
    expect(done.content[0]?.text).toMatch(/Long running operation completed/);
    expect(progress).toEqual(
      [1, 2, 3].map((i) => expect.objectContaining({ progress: i, total: 3 })),
    );

    expect(c.stats()).toMatchObject({ inFlight: 0, leases: 0, restarts: 0, protocolErrors: 0 });
  });

  it('after a SIGKILL: in-flight calls fail at once, the restart handshakes again before it serves', async () => {
    const c = coordinator();
    await c.register('mcp', mcpSpec());
    const first = c.snapshot('mcp').replicas[0];
    const pid = first?.pid as number;

    const log: string[] = [];
    c.on('spawn', (e) => log.push(`spawn ${e.generation}`));
    c.on('ready', (e) => log.push(`ready ${e.generation}`));
    // A request issued the moment the coordinator learns of the exit: there is no ready replica
    // then, so it must wait for the restarted one, and only after that one's handshake.
    let queued: Promise<ToolResult> | undefined;
    c.on('exit', (e) => {
      log.push(`exit ${e.generation} ${e.signal}`);
      queued ??= c.request<ToolResult>('mcp', 'tools/call', echo('after the restart'));
      void queued.then(
        () => log.push('served'),
        () => log.push('queued request failed'),
      );
    });

    // Two tool calls in flight when the process dies: one plain, one on a lease.
    const plain = c.request('mcp', 'tools/call', longRunning(30));
    const leased = c.withConnection('mcp', (lease) => lease.request('tools/call', longRunning(30)));
    await waitUntil(
      () => c.stats().inFlight === 2 && c.snapshot('mcp').status === 'leased',
      'two calls in flight, one on a lease',
      20_000,
    );
    const t0 = performance.now();
    process.kill(pid, 'SIGKILL');
    const lost = { code: 'ERR_ATOMVISOR_CONNECTION_LOST', signal: 'SIGKILL' };
    await Promise.all([
      expect(plain).rejects.toMatchObject(lost),
      expect(leased).rejects.toMatchObject(lost),
    ]);
    expect(performance.now() - t0).toBeLessThan(10_000); // not the 30 s the calls asked for

    await waitUntil(
      () => {
        const r = c.snapshot('mcp').replicas[0];
        return r?.status === 'ready' && r.generation === 2 && r.pid !== pid;
      },
      'the server is ready again with a new process',
      30_000,
    );
    expect(queued).toBeDefined();
    const reply = await queued;
    expect(reply?.content).toEqual([{ type: 'text', text: 'Echo: after the restart' }]);
    expect(log).toEqual(['exit 1 SIGKILL', 'spawn 2', 'ready 2', 'served']);

    const second = c.snapshot('mcp').replicas[0];
    expect(second).toMatchObject({ status: 'ready', generation: 2, restarts: 1 });
    expect(second?.pid).not.toBe(pid);
    expect(isAlive(pid)).toBe(false);
    expect(isAlive(second?.pid as number)).toBe(true);
    expect(second?.handshake).toMatchObject({
      protocolVersion: PROTOCOL_VERSION,
      serverInfo: { name: 'mcp-servers/everything' },
    });
    expect(await c.request('mcp', 'ping')).toEqual({});
    expect(c.stats()).toMatchObject({ inFlight: 0, leases: 0, restarts: 1 });
  });

  it('runs an onStart hook (initialize by hand) on every start, and holds requests until it is done', async () => {
    const c = coordinator();
    const log: string[] = [];
    let initializes = 0;
    await c.register('mcp', {
      command: process.execPath,
      args: [ENTRY, 'stdio'],
      onStart: async (conn) => {
        const n = ++initializes;
        log.push(`initialize ${n}`);
        // On the restart, take our time: a request queued meanwhile must not slip through.
        if (n > 1) await new Promise((resolve) => setTimeout(resolve, 300));
        const result = (await conn.request('initialize', INITIALIZE_PARAMS)) as {
          serverInfo: { name: string };
        };
        await conn.notify('notifications/initialized');
        log.push(`initialized ${n}`);
        return { pid: conn.pid, server: result.serverInfo.name };
      },
    });
    const pid = c.snapshot('mcp').replicas[0]?.pid as number;
    expect(c.snapshot('mcp').replicas[0]?.handshake).toEqual({
      pid,
      server: 'mcp-servers/everything',
    });
    expect(await c.request('mcp', 'ping')).toEqual({});

    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    process.kill(pid, 'SIGKILL');
    await exited;
    const t0 = performance.now();
    const reply = await c.request<ToolResult>('mcp', 'tools/call', echo('held'), {
      timeoutMs: 30_000,
    });
    log.push('served');
    expect(reply.content).toEqual([{ type: 'text', text: 'Echo: held' }]);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(250); // it waited out the slow hook
    expect(initializes).toBe(2);
    expect(log).toEqual([
      'initialize 1',
      'initialized 1',
      'initialize 2',
      'initialized 2',
      'served',
    ]);
    const second = c.snapshot('mcp').replicas[0];
    expect(second).toMatchObject({ status: 'ready', generation: 2 });
    expect(second?.handshake).toEqual({ pid: second?.pid, server: 'mcp-servers/everything' });
    expect(second?.pid).not.toBe(pid);
  });
});
