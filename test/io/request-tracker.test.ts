import { getEventListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ConnectionLostError, JsonRpcError, TimeoutError } from '../../src/errors.ts';
import {
  type Classified,
  classify,
  encodeErrorResponse,
  encodeNotification,
  encodeRequest,
  encodeResponse,
  type JsonRpcMessage,
  notificationJson,
} from '../../src/io/jsonrpc.ts';
import { lspCancelNotification } from '../../src/io/request-conventions.ts';
import { RequestTracker, type RequestTrackerOptions } from '../../src/io/request-tracker.ts';

/** A tracker whose "server" is this test: every written message is parsed and kept. */
function harness(options: Partial<RequestTrackerOptions> = {}) {
  const written: JsonRpcMessage[] = [];
  const tracker = new RequestTracker({
    write: (text) => {
      expect(text).not.toContain('\n'); // unframed JSON: the connection's owner frames it
      const message = classify(text);
      if (message.kind === 'invalid') throw new Error(`tracker wrote an invalid message: ${text}`);
      written.push(message);
    },
    ...options,
  });
  const reply = (id: number, result: unknown) =>
    tracker.handle(classify(encodeResponse(id, result)));
  const progress = (token: string | number, n = 1) =>
    tracker.handle(
      classify(encodeNotification('notifications/progress', { progressToken: token, progress: n })),
    );
  const requests = () =>
    written.flatMap((m) =>
      m.kind === 'request' ? [{ id: m.id, method: m.method, params: m.params }] : [],
    );
  const cancels = () =>
    written.flatMap((m) =>
      m.kind === 'notification' && m.method === 'notifications/cancelled' ? [m.params] : [],
    );
  return { tracker, written, reply, progress, requests, cancels };
}

/** Settles to a tagged result so tests can inspect rejections without unhandled-rejection noise. */
function outcome<T>(promise: Promise<T>) {
  return promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}

const activeTimeouts = () =>
  process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;

describe('RequestTracker: correlation', () => {
  it('allocates increasing ids, writes the request, resolves with the matching result', async () => {
    const { tracker, written, reply } = harness();
    const a = tracker.start('echo', { n: 1 });
    const b = tracker.start('ping');
    expect([a.id, b.id]).toEqual([1, 2]);
    expect(`${a.text}\n`).toBe(encodeRequest(1, 'echo', { n: 1 }));
    expect(written).toEqual([classify(a.text), classify(b.text)]);
    expect(tracker.stats).toMatchObject({ inFlight: 2, queued: 0 });

    expect(reply(b.id, 'pong')).toBe('settled');
    expect(reply(a.id, { n: 1 })).toBe('settled');
    expect(await a.promise).toEqual({ n: 1 });
    expect(await b.promise).toBe('pong');
    expect(tracker.stats).toMatchObject({ inFlight: 0, completed: 2, failed: 0, timers: 0 });
  });

  it('rejects with JsonRpcError carrying the server error', async () => {
    const { tracker } = harness();
    const request = tracker.start('tools/call', { name: 'x' });
    const message = classify(
      encodeErrorResponse(request.id, {
        code: -32602,
        message: 'unknown tool',
        data: { name: 'x' },
      }),
    );
    expect(tracker.handle(message)).toBe('settled');
    const error = await request.promise.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JsonRpcError);
    expect(error).toMatchObject({
      code: 'ERR_ATOMVISOR_JSONRPC',
      rpcCode: -32602,
      rpcMessage: 'unknown tool',
      data: { name: 'x' },
      method: 'tools/call',
    });
    expect(tracker.stats).toMatchObject({ failed: 1, completed: 0 });
  });

  it('counts responses it cannot match instead of throwing, and keeps the real request pending', async () => {
    const { tracker, reply } = harness();
    const request = tracker.start('ping');
    const settled = outcome(request.promise);
    expect(reply(999, 'stray')).toBe('unmatched');
    // A string id never matches a numeric one: "1" is another request's id as far as JSON-RPC goes.
    expect(tracker.handle(classify('{"jsonrpc":"2.0","id":"1","result":1}'))).toBe('unmatched');
    expect(
      tracker.handle(classify(encodeErrorResponse(null, { code: -32700, message: 'parse error' }))),
    ).toBe('unmatched');
    expect(tracker.stats).toMatchObject({ unmatched: 3, inFlight: 1 });

    expect(reply(request.id, 'real')).toBe('settled');
    expect(await settled).toEqual({ ok: true, value: 'real' });
    expect(reply(request.id, 'duplicate')).toBe('unmatched');
    expect(tracker.stats).toMatchObject({ unmatched: 4, completed: 1 });
  });

  it('leaves requests, other notifications and invalid lines to the caller', () => {
    const { tracker } = harness();
    const others: Classified[] = [
      classify(encodeRequest(1, 'sampling/createMessage', {})),
      classify(encodeNotification('notifications/message', { level: 'info' })),
      classify('not json'),
    ];
    for (const message of others) expect(tracker.handle(message)).toBe('ignored');
    expect(tracker.stats.unmatched).toBe(0);
  });
});

describe('RequestTracker: bounded in-flight window and FIFO queue', () => {
  it('writes at most maxInFlight requests and sends queued ones in order as slots free', async () => {
    const { tracker, requests, reply } = harness({ maxInFlight: 2 });
    const started = Array.from({ length: 5 }, (_, i) => tracker.start('echo', { i }));
    expect(requests().map((r) => r.id)).toEqual([1, 2]);
    expect(tracker.stats).toMatchObject({ inFlight: 2, queued: 3 });

    reply(2, 'two');
    expect(requests().map((r) => r.id)).toEqual([1, 2, 3]);
    reply(1, 'one');
    expect(requests().map((r) => r.id)).toEqual([1, 2, 3, 4]);
    // A response for a request still queued cannot be genuine: the server never saw it.
    expect(reply(5, 'too early')).toBe('unmatched');
    reply(4, 'four');
    reply(3, 'three');
    expect(requests().map((r) => r.id)).toEqual([1, 2, 3, 4, 5]);
    reply(5, 'five');
    expect(await Promise.all(started.map((s) => s.promise))).toEqual([
      'one',
      'two',
      'three',
      'four',
      'five',
    ]);
    expect(tracker.stats).toMatchObject({ inFlight: 0, queued: 0, completed: 5 });
  });

  it('rejects with ERR_ATOMVISOR_QUEUE_FULL beyond maxQueued (0: no waiting at all)', async () => {
    const { tracker, requests } = harness({ maxInFlight: 1, maxQueued: 2 });
    const kept = [tracker.start('a'), tracker.start('b'), tracker.start('c')];
    const overflow = tracker.start('d');
    await expect(overflow.promise).rejects.toMatchObject({
      code: 'ERR_ATOMVISOR_QUEUE_FULL',
      limit: 2,
    });
    expect(tracker.stats).toMatchObject({ inFlight: 1, queued: 2, failed: 1 });
    expect(requests().map((r) => r.method)).toEqual(['a']);
    tracker.failAll(new Error('done'));
    await Promise.all(kept.map((k) => k.promise.catch(() => {})));

    const strict = harness({ maxInFlight: 1, maxQueued: 0 }).tracker;
    const first = strict.start('first');
    await expect(strict.start('second').promise).rejects.toMatchObject({
      code: 'ERR_ATOMVISOR_QUEUE_FULL',
    });
    strict.failAll(new Error('done'));
    await first.promise.catch(() => {});
  });

  it('a write that throws rejects that request and frees its slot for the next', async () => {
    let calls = 0;
    const lines: string[] = [];
    const tracker = new RequestTracker({
      maxInFlight: 1,
      write: (line) => {
        calls++;
        if (calls === 2) throw new Error('EPIPE');
        lines.push(line);
      },
    });
    const a = tracker.start('a');
    const b = tracker.start('b'); // queued; its write will throw
    const c = tracker.start('c');
    const settledB = outcome(b.promise);
    tracker.handle(classify(encodeResponse(a.id, 'A')));
    expect(await settledB).toMatchObject({ ok: false, error: { message: 'EPIPE' } });
    expect(lines.map((l) => classify(l))).toMatchObject([{ method: 'a' }, { method: 'c' }]);
    tracker.handle(classify(encodeResponse(c.id, 'C')));
    expect(await a.promise).toBe('A');
    expect(await c.promise).toBe('C');
    expect(tracker.stats).toMatchObject({ failed: 1, completed: 2, inFlight: 0 });
  });
});

describe('RequestTracker: one-way messages (notifications) keep their place', () => {
  const note = (n: number) => notificationJson('note', { n });
  /** What was written, in order: request methods and notification numbers. */
  const order = (written: JsonRpcMessage[]) =>
    written.map((m) =>
      m.kind === 'request'
        ? m.method
        : m.kind === 'notification'
          ? `note ${(m.params as { n: number }).n}`
          : m.kind,
    );

  it('is written at once when nothing waits, else behind the waiting requests, taking no slot', async () => {
    const { tracker, written, reply } = harness({ maxInFlight: 1 });
    tracker.send(note(1)); // nothing waits: at once
    const a = tracker.start('a');
    tracker.send(note(2)); // a is in flight, nothing queued: at once
    const b = tracker.start('b'); // queued: the window is full
    tracker.send(note(3)); // behind b
    const c = tracker.start('c');
    tracker.send(note(4));
    expect(order(written)).toEqual(['note 1', 'a', 'note 2']);
    expect(tracker.stats).toMatchObject({ inFlight: 1, queued: 4 });
    reply(a.id, 'A');
    // b takes the slot; note 3 follows it (no slot needed); c waits; note 4 waits behind c.
    expect(order(written)).toEqual(['note 1', 'a', 'note 2', 'b', 'note 3']);
    reply(b.id, 'B');
    expect(order(written)).toEqual(['note 1', 'a', 'note 2', 'b', 'note 3', 'c', 'note 4']);
    reply(c.id, 'C');
    expect(await Promise.all([a.promise, b.promise, c.promise])).toEqual(['A', 'B', 'C']);
    expect(tracker.stats).toMatchObject({ inFlight: 0, queued: 0 });
  });

  it('held (the server stopped reading): queued in order, bounded by maxQueued, written on resume', () => {
    const { tracker, written, reply } = harness({ maxInFlight: 4, maxQueued: 3 });
    const a = tracker.start('a');
    tracker.hold();
    tracker.send(note(1));
    const b = tracker.start('b');
    tracker.send(note(2));
    expect(() => tracker.send(note(3))).toThrowError(
      expect.objectContaining({ code: 'ERR_ATOMVISOR_QUEUE_FULL', limit: 3 }),
    );
    expect(order(written)).toEqual(['a']);
    tracker.resume();
    expect(order(written)).toEqual(['a', 'note 1', 'b', 'note 2']);
    reply(a.id, 'A');
    reply(b.id, 'B');
  });

  it('a queued request that leaves lets the notifications behind it go; failAll drops them unwritten', async () => {
    const { tracker, written } = harness({ maxInFlight: 1 });
    const a = tracker.start('a');
    const abort = new AbortController();
    const b = tracker.start('b', {}, { signal: abort.signal });
    tracker.send(note(1));
    abort.abort(new Error('gave up'));
    await expect(b.promise).rejects.toThrow('gave up');
    expect(order(written)).toEqual(['a', 'note 1']);
    const c = tracker.start('c');
    tracker.send(note(2));
    tracker.failAll(new Error('gone'));
    await expect(a.promise).rejects.toThrow('gone');
    await expect(c.promise).rejects.toThrow('gone');
    expect(order(written)).toEqual(['a', 'note 1']);
    expect(tracker.stats).toMatchObject({ inFlight: 0, queued: 0 });
    tracker.close(new Error('closed'));
    expect(() => tracker.send(note(3))).toThrow('closed');
  });
});

describe('RequestTracker: timeouts, progress and cancellation', () => {
  it('times out with TimeoutError, tells the server, frees the slot, and ignores the late reply', async () => {
    const { tracker, cancels, written, reply } = harness({ maxInFlight: 1 });
    const slow = tracker.start('sleep', {}, { timeoutMs: 50 });
    const next = tracker.start('ping', undefined, { timeoutMs: 5_000 });
    const error = await slow.promise.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({ code: 'ERR_ATOMVISOR_TIMEOUT', timeoutMs: 50 });
    expect(cancels()).toEqual([{ requestId: slow.id, reason: 'timed out after 50 ms' }]);
    // The cancel line precedes the next request, so the server hears of it first.
    expect(written.map((m) => ('method' in m ? m.method : m.kind))).toEqual([
      'sleep',
      'notifications/cancelled',
      'ping',
    ]);
    expect(tracker.stats).toMatchObject({ timedOut: 1, inFlight: 1, queued: 0 });
    expect(reply(slow.id, 'late')).toBe('unmatched');
    reply(next.id, 'pong');
    expect(await next.promise).toBe('pong');
    expect(tracker.stats.timers).toBe(0);
  });

  it('progress resets the inactivity limit; totalTimeoutMs still cuts a request that keeps reporting', async () => {
    const { tracker, requests, reply, progress } = harness();
    const t0 = performance.now();
    const events: string[] = [];
    const track = (name: string, promise: Promise<unknown>) =>
      promise.then(
        () => events.push(`${name}:resolved`),
        (error: unknown) => events.push(`${name}:${(error as TimeoutError).code}`),
      );
    let progressSeen = 0;
    // Token in params (picked up), token given as an option (injected into params).
    const alive = tracker.start('sleep', { _meta: { progressToken: 'alive' } }, { timeoutMs: 100 });
    const silent = tracker.start('sleep', {}, { timeoutMs: 100 });
    const capped = tracker.start(
      'sleep',
      {},
      {
        timeoutMs: 100,
        totalTimeoutMs: 300,
        progressToken: 'capped',
        onProgress: () => progressSeen++,
      },
    );
    expect(requests()[2]?.params).toEqual({ _meta: { progressToken: 'capped' } });

    let cappedAt = 0;
    const all = Promise.all([
      track('alive', alive.promise),
      track('silent', silent.promise),
      track('capped', capped.promise).then(() => {
        cappedAt = performance.now() - t0;
      }),
    ]);
    const ticker = setInterval(() => {
      progress('alive');
      progress('capped');
    }, 20);
    try {
      await sleep(500);
      reply(alive.id, 'done');
      await all;
    } finally {
      clearInterval(ticker);
    }
    expect(events).toEqual([
      'silent:ERR_ATOMVISOR_TIMEOUT',
      'capped:ERR_ATOMVISOR_TIMEOUT',
      'alive:resolved',
    ]);
    expect(await capped.promise.catch((e: unknown) => e)).toMatchObject({ timeoutMs: 300 });
    // Far more than 100 ms passed: only the progress kept `capped` alive until its total limit.
    expect(cappedAt).toBeGreaterThanOrEqual(250);
    expect(progressSeen).toBeGreaterThan(3);
    expect(tracker.stats).toMatchObject({ completed: 1, timedOut: 2, timers: 0 });
  });

  it('progress for another token, or for nobody, does not keep a request alive', async () => {
    const { tracker, progress } = harness();
    const request = tracker.start('sleep', {}, { timeoutMs: 100, progressToken: 'mine' });
    const ticker = setInterval(() => {
      progress('theirs');
      progress(12345);
    }, 20);
    try {
      await expect(request.promise).rejects.toBeInstanceOf(TimeoutError);
    } finally {
      clearInterval(ticker);
    }
    expect(tracker.stats.progress).toBe(0);
    expect(tracker.stats.unmatched).toBeGreaterThan(0);
    // Once settled its token is free again, and stray progress for it is unmatched.
    expect(progress('mine')).toBe('unmatched');
  });

  it('time spent queued does not count against the inactivity limit (total time does)', async () => {
    const { tracker, reply } = harness({ maxInFlight: 1 });
    const blocker = tracker.start('block', {}, { timeoutMs: 5_000 });
    const waiting = tracker.start('wait', {}, { timeoutMs: 300 });
    await sleep(200);
    reply(blocker.id, 'ok'); // `waiting` is written now; its inactivity limit restarts
    await sleep(200); // 400 ms since start, 200 ms since it was sent
    reply(waiting.id, 'ok');
    expect(await outcome(waiting.promise)).toEqual({ ok: true, value: 'ok' });

    const blocker2 = tracker.start('block', {}, { timeoutMs: 5_000 });
    const capped = tracker.start('wait', {}, { timeoutMs: 5_000, totalTimeoutMs: 100 });
    await expect(capped.promise).rejects.toMatchObject({ timeoutMs: 100 });
    reply(blocker2.id, 'ok');
    await blocker2.promise;
  });

  it('abort rejects with signal.reason and cancels on the server; a queued abort never reaches it', async () => {
    const { tracker, requests, cancels, reply } = harness({ maxInFlight: 1 });
    const inFlight = new AbortController();
    const queued = new AbortController();
    const a = tracker.start('sleep', {}, { signal: inFlight.signal });
    const b = tracker.start('sleep', {}, { signal: queued.signal });
    const c = tracker.start('ping');
    expect(getEventListeners(inFlight.signal, 'abort')).toHaveLength(1);

    const reasonB = new Error('user gave up on b');
    queued.abort(reasonB);
    await expect(b.promise).rejects.toBe(reasonB);
    expect(tracker.stats).toMatchObject({ queued: 1, aborted: 1 });
    expect(cancels()).toEqual([]);

    const reasonA = new Error('user gave up on a');
    inFlight.abort(reasonA);
    await expect(a.promise).rejects.toBe(reasonA);
    expect(cancels()).toEqual([{ requestId: a.id, reason: 'user gave up on a' }]);
    expect(requests().map((r) => r.id)).toEqual([a.id, c.id]); // b was never written
    reply(c.id, 'pong');
    await c.promise;

    const pre = AbortSignal.abort('already');
    const d = tracker.start('ping', undefined, { signal: pre });
    await expect(d.promise).rejects.toBe('already');
    expect(requests().map((r) => r.id)).toEqual([a.id, c.id]);
    expect(tracker.stats).toMatchObject({ aborted: 3, timers: 0 });
  });

  it('removes its abort listener once the request settles', async () => {
    const { tracker, reply } = harness();
    const controller = new AbortController();
    const request = tracker.start('ping', undefined, { signal: controller.signal });
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    reply(request.id, {});
    await request.promise;
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    controller.abort(); // too late: no effect, no cancel line
    expect(tracker.stats).toMatchObject({ aborted: 0, completed: 1 });
  });

  it('sends no cancel for initialize (MCP forbids it), none when disabled, or a custom one', async () => {
    const mcp = harness();
    await mcp.tracker.start('initialize', {}, { timeoutMs: 10 }).promise.catch(() => {});
    expect(mcp.cancels()).toEqual([]);

    const off = harness({ cancelNotification: false });
    await off.tracker.start('sleep', {}, { timeoutMs: 10 }).promise.catch(() => {});
    expect(off.written).toHaveLength(1);

    const lsp = harness({
      cancelNotification: lspCancelNotification,
    });
    const request = lsp.tracker.start('textDocument/hover', {}, { timeoutMs: 10 });
    await request.promise.catch(() => {});
    expect(lsp.written.at(-1)).toEqual({
      kind: 'notification',
      method: '$/cancelRequest',
      params: { id: request.id },
    });
  });
});

describe('RequestTracker: failAll, close, and no leftover timers', () => {
  it('failAll rejects every in-flight and queued request at once and writes nothing more', async () => {
    const { tracker, written } = harness({ maxInFlight: 2 });
    const started = Array.from({ length: 4 }, () =>
      tracker.start('sleep', {}, { timeoutMs: 10_000, totalTimeoutMs: 20_000 }),
    );
    const results = started.map((s) => outcome(s.promise));
    // One shared timer for the eight limits of the four requests.
    expect(tracker.stats).toMatchObject({ inFlight: 2, queued: 2, timers: 1 });
    const lost = new ConnectionLostError(1, null);
    expect(tracker.failAll(lost)).toBe(4);
    for (const result of await Promise.all(results))
      expect(result).toEqual({ ok: false, error: lost });
    expect(written).toHaveLength(2); // no queued request and no cancel line went to the dead server
    expect(tracker.stats).toMatchObject({ inFlight: 0, queued: 0, failed: 4, timers: 0 });

    // Still usable (e.g. after a restart), unlike after close().
    const again = tracker.start('ping');
    expect(written).toHaveLength(3);
    tracker.handle(classify(encodeResponse(again.id, 'pong')));
    expect(await again.promise).toBe('pong');
  });

  it('close rejects pending requests and every later start with the same error', async () => {
    const { tracker, written } = harness();
    const pending = tracker.start('sleep');
    const closed = new ConnectionLostError(null, 'SIGKILL');
    tracker.close(closed);
    await expect(pending.promise).rejects.toBe(closed);
    await expect(tracker.start('ping').promise).rejects.toBe(closed);
    expect(written).toHaveLength(1);
  });

  it('one shared timer: a later request with a shorter limit times out first, the other in its turn', async () => {
    const { tracker, cancels } = harness();
    const order: string[] = [];
    const long = tracker.start('long', {}, { timeoutMs: 150 });
    const short = tracker.start('short', {}, { timeoutMs: 20 });
    const done = [
      long.promise.catch((e: TimeoutError) => order.push(`long ${e.code}`)),
      short.promise.catch((e: TimeoutError) => order.push(`short ${e.code}`)),
    ];
    expect(tracker.stats.timers).toBe(1);
    await done[1];
    expect(order).toEqual(['short ERR_ATOMVISOR_TIMEOUT']);
    expect(tracker.stats).toMatchObject({ inFlight: 1, timers: 1 }); // re-armed for the long one
    await done[0];
    expect(order).toEqual(['short ERR_ATOMVISOR_TIMEOUT', 'long ERR_ATOMVISOR_TIMEOUT']);
    expect(cancels().map((c) => (c as { requestId: number }).requestId)).toEqual([
      short.id,
      long.id,
    ]);
    expect(tracker.stats).toMatchObject({ inFlight: 0, timedOut: 2, timers: 0 });
  });

  it('leaves no timer behind however its requests end', async () => {
    const baseline = activeTimeouts();
    const { tracker, reply } = harness({
      maxInFlight: 8,
      timeoutMs: 30_000,
      totalTimeoutMs: 60_000,
    });
    const controllers: AbortController[] = [];
    const started = Array.from({ length: 40 }, (_, i) => {
      const controller = new AbortController();
      controllers.push(controller);
      return tracker.start(
        'work',
        { i },
        { signal: controller.signal, timeoutMs: i % 5 === 4 ? 20 : undefined },
      );
    });
    const results = Promise.all(started.map((s) => outcome(s.promise)));
    // The check can see the tracker's timer (so its later silence means something): one, shared
    // by the 80 limits of the 40 requests.
    expect(activeTimeouts()).toBe(baseline + 1);
    expect(tracker.stats.timers).toBe(1);

    for (const s of started.slice(0, 8)) {
      if (s.id % 2 === 0) reply(s.id, 'ok');
      else tracker.handle(classify(encodeErrorResponse(s.id, { code: 1, message: 'no' })));
    }
    for (const c of controllers.slice(8, 16)) c.abort(new Error('stop'));
    await sleep(100); // the short-timeout ones among the rest time out
    tracker.failAll(new ConnectionLostError(0, null));
    await results;

    expect(tracker.stats).toMatchObject({ inFlight: 0, queued: 0, timers: 0 });
    const { completed, failed, timedOut, aborted } = tracker.stats;
    expect(completed + failed + timedOut + aborted).toBe(40);
    expect(timedOut).toBeGreaterThan(0);
    // ≤: an unrelated timer counted in the baseline (the test runner's) may have ended since.
    expect(activeTimeouts()).toBeLessThanOrEqual(baseline);
    for (const c of controllers) expect(getEventListeners(c.signal, 'abort')).toHaveLength(0);
  });

  it('refuses bad arguments with typed errors', () => {
    const field = (name: string) =>
      expect.objectContaining({ code: 'ERR_ATOMVISOR_INVALID_ARGUMENT', field: name });
    expect(() => new RequestTracker({} as RequestTrackerOptions)).toThrow(field('write'));
    const write = () => {};
    expect(() => new RequestTracker({ write, maxInFlight: 0 })).toThrow(field('maxInFlight'));
    expect(() => new RequestTracker({ write, maxQueued: -1 })).toThrow(field('maxQueued'));
    expect(() => new RequestTracker({ write, timeoutMs: -5 })).toThrow(field('timeoutMs'));
    expect(() => new RequestTracker({ write, totalTimeoutMs: 2 ** 31 })).toThrow(
      field('totalTimeoutMs'),
    );
    const { tracker } = harness();
    expect(() => tracker.start('')).toThrow(field('method'));
    expect(() => tracker.start('m', {}, { timeoutMs: Number.NaN })).toThrow(field('timeoutMs'));
    expect(() => tracker.start('m', [1], { progressToken: 't' })).toThrow(field('progressToken'));
    expect(() =>
      tracker.start('m', { _meta: { progressToken: 'a' } }, { progressToken: 'b' }),
    ).toThrow(field('progressToken'));
    const holder = tracker.start('m', {}, { progressToken: 'dup' });
    expect(() => tracker.start('m', {}, { progressToken: 'dup' })).toThrow(field('progressToken'));
    expect(tracker.stats.inFlight).toBe(1); // the refused starts left nothing behind
    tracker.failAll(new Error('done'));
    return holder.promise.catch(() => {});
  });
});
