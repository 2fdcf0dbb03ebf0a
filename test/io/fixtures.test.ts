import { type ChildProcess, spawn } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionLostError, JsonRpcError, TimeoutError } from '../../src/errors.ts';
import { classify, type NotificationMessage } from '../../src/io/jsonrpc.ts';
import { LineDecoder } from '../../src/io/line-decoder.ts';
import {
  RequestTracker,
  type RequestTrackerOptions,
  type StartOptions,
} from '../../src/io/request-tracker.ts';

const ECHO = fileURLToPath(new URL('../fixtures/echo-server.mjs', import.meta.url));
const STUBBORN = fileURLToPath(new URL('../fixtures/stubborn-server.mjs', import.meta.url));
const MiB = 1024 * 1024;

interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const children: ChildProcess[] = [];
const grandchildren: number[] = [];

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

async function waitUntilGone(pid: number, limitMs = 5_000): Promise<void> {
  const start = performance.now();
  while (isAlive(pid)) {
    if (performance.now() - start > limitMs) throw new Error(`process ${pid} still exists`);
    await sleep(10);
  }
}

afterEach(async () => {
  // Grandchildren first, while their parent (the fixture) is still alive to reap them: an orphan
  // is reparented to PID 1, and in a container PID 1 may never reap it, leaving a zombie that
  // process.kill(pid, 0) still finds.
  for (const pid of grandchildren.splice(0)) {
    if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    await waitUntilGone(pid);
  }
  for (const child of children.splice(0)) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    expect(isAlive(child.pid!)).toBe(false);
  }
});

/**
 * Spawns a fixture and wires it the way the coordinator will: stdout → LineDecoder → classify →
 * tracker.handle; requests → stdin; process end → tracker.failAll(ConnectionLostError).
 */
function connect(
  fixture: string,
  options: { maxLineBytes?: number; tracker?: Partial<RequestTrackerOptions> } = {},
) {
  const child = spawn(process.execPath, [fixture], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  const invalid: string[] = [];
  const oversized: number[] = [];
  const notifications: NotificationMessage[] = [];
  let stderr = '';

  const tracker = new RequestTracker({
    write: (text) => child.stdin!.write(`${text}\n`), // the tracker gives JSON; we frame it
    ...options.tracker,
  });
  const decoder = new LineDecoder(
    (line) => {
      const message = classify(line);
      if (message.kind === 'invalid') invalid.push(message.reason);
      else if (tracker.handle(message) === 'ignored' && message.kind === 'notification') {
        notifications.push(message);
      }
    },
    { maxLineBytes: options.maxLineBytes, onOversized: (bytes) => oversized.push(bytes) },
  );
  child.stdout!.on('data', (chunk: Buffer) => decoder.feed(chunk));
  child.stdout!.on('end', () => decoder.end());
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  // Writing to a dead server's stdin fails asynchronously (EPIPE); the process end reports it.
  child.stdin!.on('error', () => {});

  const exited = new Promise<Ended>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  // 'close' waits for stdout to drain, so no reply still in the pipe is failed by mistake.
  const closed = new Promise<Ended>((resolve) =>
    child.once('close', (code, signal) => {
      tracker.failAll(new ConnectionLostError(code, signal));
      resolve({ code, signal });
    }),
  );
  const request = <T = unknown>(
    method: string,
    params?: Record<string, unknown>,
    startOptions?: StartOptions,
  ) => tracker.start<T>(method, params, startOptions).promise;

  return {
    child,
    tracker,
    decoder,
    invalid,
    oversized,
    notifications,
    exited,
    closed,
    request,
    stderr: () => stderr,
  };
}

describe('echo-server fixture through LineDecoder + RequestTracker', () => {
  it('initializes, then correlates 100 concurrent echo requests (36 of them queued)', async () => {
    const server = connect(ECHO);
    const init = await server.request('initialize', { protocolVersion: '2025-06-18' });
    expect(init).toMatchObject({ protocolVersion: '2025-06-18', capabilities: { echo: true } });

    const payloads = Array.from({ length: 100 }, (_, i) => ({
      i,
      text: `#${i} ${'é🎉'.repeat(i % 7)} ${Math.random()}`,
      nested: { list: Array.from({ length: i % 5 }, (_, j) => j * i) },
    }));
    const pending = payloads.map((p) => server.request('echo', p));
    expect(server.tracker.stats).toMatchObject({ inFlight: 64, queued: 36 });
    const results = await Promise.all(pending);
    expect(results).toEqual(payloads);
    expect(server.tracker.stats).toMatchObject({
      completed: 101,
      unmatched: 0,
      inFlight: 0,
      queued: 0,
    });
    expect(server.invalid).toEqual([]);
  });

  it('correlates sleep replies that arrive out of order', async () => {
    const server = connect(ECHO);
    const durations = [300, 40, 200, 5, 120];
    const finished: number[] = [];
    const results = await Promise.all(
      durations.map((ms) =>
        server.request<{ slept: number }>('sleep', { ms }).then((result) => {
          finished.push(result.slept);
          return result;
        }),
      ),
    );
    expect(results.map((r) => r.slept)).toEqual(durations);
    expect(finished).toEqual([...durations].sort((a, b) => a - b));
    expect(finished).not.toEqual(durations);
  });

  it('keeps a slow request alive with progress; without it, or past totalTimeoutMs, it is cut and cancelled', async () => {
    const server = connect(ECHO);
    await server.request('ping');
    const started = [
      server.tracker.start(
        'sleep',
        { ms: 600, progressEveryMs: 25 },
        { timeoutMs: 150, progressToken: 'kept-alive' },
      ),
      server.tracker.start('sleep', { ms: 600, progressEveryMs: 25 }, { timeoutMs: 150 }),
      server.tracker.start(
        'sleep',
        { ms: 600, progressEveryMs: 25 },
        { timeoutMs: 150, totalTimeoutMs: 300, progressToken: 'capped' },
      ),
    ];
    const [alive, silent, capped] = await Promise.allSettled(started.map((s) => s.promise));
    expect(alive).toEqual({ status: 'fulfilled', value: { slept: 600 } });
    expect(silent).toMatchObject({ status: 'rejected', reason: { timeoutMs: 150 } });
    expect((silent as PromiseRejectedResult).reason).toBeInstanceOf(TimeoutError);
    expect(capped).toMatchObject({ status: 'rejected', reason: { timeoutMs: 300 } });
    expect(server.tracker.stats.progress).toBeGreaterThan(10);

    // Both cancel notifications reached the server, which stopped work and sent no late reply.
    const cancelled = await server.request<number[]>('cancelled');
    expect(cancelled.sort()).toEqual([started[1]!.id, started[2]!.id].sort());
    expect(server.tracker.stats.unmatched).toBe(0);
  });

  it('reports a garbage line as invalid and keeps the connection working', async () => {
    const server = connect(ECHO);
    expect(await server.request('garbage')).toEqual({ afterGarbage: true });
    expect(server.invalid).toHaveLength(1);
    expect(server.invalid[0]).toMatch(/malformed JSON/);
    expect(await server.request('echo', { still: 'works' })).toEqual({ still: 'works' });
  });

  it('drops an oversized line (2 MiB over a 1 MiB limit) without buffering it; the next reply arrives', async () => {
    const server = connect(ECHO, { maxLineBytes: MiB });
    expect(await server.request('oversized', { bytes: 2 * MiB })).toEqual({
      afterOversized: 2 * MiB,
    });
    expect(server.oversized).toEqual([2 * MiB]);
    expect(server.decoder.stats.peakBufferedBytes).toBeLessThanOrEqual(MiB);
    expect(server.invalid).toEqual([]);
    expect(await server.request('echo', { after: 'oversized' })).toEqual({ after: 'oversized' });
  });

  it('turns a server error into JsonRpcError and an unknown method into -32601', async () => {
    const server = connect(ECHO);
    const failed = await server
      .request('fail', { code: -32001, message: 'tool broke', data: { why: 'test' } })
      .catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(JsonRpcError);
    expect(failed).toMatchObject({
      rpcCode: -32001,
      rpcMessage: 'tool broke',
      data: { why: 'test' },
    });
    await expect(server.request('no/such/method')).rejects.toMatchObject({ rpcCode: -32601 });
  });

  it('crash: the child exits and failAll rejects every pending request with ConnectionLostError', async () => {
    const server = connect(ECHO);
    await server.request('ping');
    const sleeping = [1, 2, 3].map(() => server.request('sleep', { ms: 10_000 }));
    const crash = server.request('crash', { code: 3 });
    const all = Promise.allSettled([...sleeping, crash]);
    expect(await server.closed).toEqual({ code: 3, signal: null });
    const outcomes = await all;
    for (const result of outcomes) {
      expect(result.status).toBe('rejected');
      const reason = (result as PromiseRejectedResult).reason;
      expect(reason).toBeInstanceOf(ConnectionLostError);
      expect(reason).toMatchObject({ code: 'ERR_ATOMVISOR_CONNECTION_LOST', exitCode: 3 });
    }
    expect(server.tracker.stats).toMatchObject({ inFlight: 0, failed: 4, timers: 0 });
  });

  it('exits cleanly (code 0) on stdin EOF, and dies on SIGTERM', async () => {
    const eof = connect(ECHO);
    await eof.request('ping');
    eof.child.stdin!.end();
    expect(await eof.closed).toEqual({ code: 0, signal: null });

    const term = connect(ECHO);
    await term.request('ping');
    term.child.kill('SIGTERM');
    expect(await term.exited).toEqual({ code: null, signal: 'SIGTERM' });
  });

  it('spawn-grandchild: a live grandchild that shares the server stdout pipe; the test kills it', async () => {
    const server = connect(ECHO);
    const pid = await server.request<number>('spawn-grandchild');
    grandchildren.push(pid);
    expect(pid).toEqual(expect.any(Number));
    expect(pid).not.toBe(server.child.pid);
    expect(isAlive(pid)).toBe(true);
    if (process.platform === 'linux') {
      // Same pipe inode on fd 1 (libuv makes stdio pipes from socketpairs): the grandchild would
      // hold the server's stdout open after the server died.
      expect(readlinkSync(`/proc/${pid}/fd/1`)).toMatch(/^(pipe|socket):\[\d+\]$/);
      expect(readlinkSync(`/proc/${pid}/fd/1`)).toBe(
        readlinkSync(`/proc/${server.child.pid}/fd/1`),
      );
    }
    expect(await server.request('ping')).toEqual({});
    process.kill(pid, 'SIGKILL');
    await waitUntilGone(pid);
    expect(isAlive(pid)).toBe(false);
  });
});

describe('stubborn-server fixture', () => {
  it('survives SIGTERM and stdin EOF, still answering after SIGTERM; SIGKILL ends it', async () => {
    const server = connect(STUBBORN);
    const pid = await server.request<number>('pid');
    expect(pid).toBe(server.child.pid);
    let exitedEarly = false;
    void server.exited.then(() => {
      exitedEarly = true;
    });

    server.child.kill('SIGTERM');
    await sleep(300);
    expect(exitedEarly).toBe(false);
    expect(await server.request('echo', { after: 'SIGTERM' })).toEqual({ after: 'SIGTERM' });
    expect(server.stderr()).toContain('ignoring SIGTERM');

    server.child.stdin!.end();
    await sleep(300);
    expect(exitedEarly).toBe(false);
    expect(isAlive(pid)).toBe(true);

    server.child.kill('SIGKILL');
    expect(await server.exited).toEqual({ code: null, signal: 'SIGKILL' });
    await server.closed;
    expect(isAlive(pid)).toBe(false);
  });
});
