/**
 * Two-way peers (src/coordinator/inbound.ts, handlers.ts, peer.ts): server-to-client requests
 * answered by the most specific handler, errors as JSON-RPC errors, cancellation and process exit
 * through the handler's signal; notifications routed to a lease, its key, the spec, the request
 * that is waiting, and the event, in the server's order; coordinator.notify; the start handshake
 * answering the server's own request; and processes that speak no protocol.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { PeerContext } from '../../src/index.ts';
import { coordinatorsFor } from '../helpers/coordinators.ts';
import { echoSpec, fixture, isAlive, waitUntil } from '../helpers/processes.ts';

const coordinators = coordinatorsFor({
  stop: { stdinGraceMs: 200, termGraceMs: 200 },
  restart: { initialDelayMs: 10, maxDelayMs: 100 },
});
afterEach(() => coordinators.closeAll());

type Asked = { answer?: unknown; error?: { code: number; message: string; data?: unknown } };

describe('server-to-client requests', () => {
  it('are answered by the lease, then the key, then the spec; an exact method before *', async () => {
    const c = coordinators.make();
    const seen: string[] = [];
    const offKey = c.onRequest('echo', 'sampling/createMessage', (params) => {
      seen.push('key');
      return { from: 'key', params };
    });
    c.onRequest('echo', '*', (_p, ctx) => ({ from: 'key *', method: ctx.method }));
    await c.register(
      'echo',
      echoSpec({
        onRequest: {
          'roots/list': () => ({ from: 'spec' }),
          'elicitation/create': () => ({ from: 'spec exact' }),
        },
      }),
    );
    const ask = (method: string, params?: unknown) =>
      c.request<Asked>('echo', 'ask', { method, params });
    expect(await ask('sampling/createMessage', { n: 1 })).toEqual({
      answer: { from: 'key', params: { n: 1 } },
    });
    // The key's '*' comes before the spec's exact handler: the key is the more specific level.
    expect(await ask('roots/list')).toEqual({ answer: { from: 'key *', method: 'roots/list' } });
    offKey();
    expect(await ask('sampling/createMessage')).toEqual({
      answer: { from: 'key *', method: 'sampling/createMessage' },
    });

    await c.withConnection('echo', async (lease) => {
      let ctx: PeerContext | undefined;
      lease.onRequest('roots/list', (_p, context) => {
        ctx = context;
        return { from: 'lease' };
      });
      expect(await lease.request('ask', { method: 'roots/list' })).toEqual({
        answer: { from: 'lease' },
      });
      expect(ctx).toMatchObject({
        method: 'roots/list',
        key: 'echo',
        replica: 0,
        pid: lease.pid,
        generation: lease.generation,
        lease,
      });
      expect(ctx?.signal).toBeInstanceOf(AbortSignal);
      expect(lease.replica).toBe(0);
    });
    // Released: the lease's handler is gone.
    expect(await ask('roots/list')).toEqual({ answer: { from: 'key *', method: 'roots/list' } });
    expect(seen).toEqual(['key']);
  });

  it('turns a thrown { code, message, data } into that error, any other throw into -32603, none into -32601', async () => {
    const c = coordinators.make();
    const unhandled: unknown[] = [];
    c.on('server-request', (e) => unhandled.push(e));
    c.onRequest('echo', 'typed', () => {
      throw { code: -32042, message: 'no such model', data: { model: 'x' } };
    });
    c.onRequest('echo', 'broken', async () => {
      throw new Error('the handler broke');
    });
    await c.register('echo', echoSpec());
    const ask = (method: string) => c.request<Asked>('echo', 'ask', { method });
    expect(await ask('typed')).toEqual({
      error: { code: -32042, message: 'no such model', data: { model: 'x' } },
    });
    expect(await ask('broken')).toEqual({ error: { code: -32603, message: 'the handler broke' } });
    const none = await ask('nobody/answers');
    expect(none.error?.code).toBe(-32601);
    expect(unhandled).toEqual([expect.objectContaining({ key: 'echo', method: 'nobody/answers' })]);
    expect(c.stats().protocolErrors).toBe(0);
  });

  it('aborts the handler when the server cancels, and when the process exits; nothing is left pending', async () => {
    const c = coordinators.make();
    const signals: AbortSignal[] = [];
    c.onRequest('echo', 'forever', (_p, ctx) => {
      signals.push(ctx.signal);
      return new Promise(() => {}); // never settles
    });
    await c.register('echo', echoSpec());
    expect(await c.request('echo', 'ask', { method: 'forever', cancelAfterMs: 50 })).toEqual({
      cancelled: true,
    });
    await waitUntil(() => signals[0]?.aborted === true, 'the cancel reached the handler');
    expect(String(signals[0]?.reason)).toMatch(/took too long/);

    const pending = c.request('echo', 'ask', { method: 'forever' }).catch((e) => e.code);
    await waitUntil(() => signals.length === 2, 'the second request reached the handler');
    const pid = c.snapshot('echo').replicas[0]?.pid as number;
    process.kill(pid, 'SIGKILL');
    expect(await pending).toBe('ERR_ATOMVISOR_CONNECTION_LOST');
    await waitUntil(() => signals[1]?.aborted === true, 'the exit reached the handler');
    expect(signals[1]?.reason).toMatchObject({ code: 'ERR_ATOMVISOR_CONNECTION_LOST' });
    expect(isAlive(pid)).toBe(false);
  });

  it('lets the start handshake answer a request the server makes inside initialize', async () => {
    const c = coordinators.make();
    await c.register(
      'echo',
      echoSpec({
        env: { ECHO_ASK_ON_INIT: 'workspace/configuration' },
        onRequest: { 'workspace/configuration': (params: unknown) => [{ answered: params }] },
      }),
    );
    expect(c.snapshot('echo').replicas[0]?.handshake).toMatchObject({
      asked: [{ answered: { during: 'initialize' } }],
    });
  });
});

describe('notifications', () => {
  it('go to the lease first, then the key, the spec, the waiting request and the event, in order', async () => {
    const c = coordinators.make();
    const got: string[] = [];
    c.onNotification('echo', 'note', (p) => got.push(`key ${(p as { i: number }).i}`));
    c.on('notification', (e) => {
      if (e.method === 'note') got.push(`event ${(e.params as { i: number }).i}`);
    });
    await c.register(
      'echo',
      echoSpec({
        onNotification: {
          '*': (p: unknown, ctx: PeerContext) =>
            got.push(`spec ${ctx.method} ${(p as { i: number }).i}`),
        },
      }),
    );
    await c.withConnection('echo', async (lease) => {
      lease.onNotification('note', async (p) => {
        got.push(`lease ${(p as { i: number }).i}`);
        await new Promise((r) => setTimeout(r, 20)); // slow: must not reorder or hold up the rest
      });
      const during: string[] = [];
      await lease.request(
        'chatter',
        { count: 3 },
        { onNotification: (method, p) => during.push(`${method} ${(p as { i: number }).i}`) },
      );
      expect(during).toEqual(['note 0', 'note 1', 'note 2']);
    });
    expect(got).toEqual(
      [0, 1, 2].flatMap((i) => [`lease ${i}`, `key ${i}`, `spec note ${i}`, `event ${i}`]),
    );
    // Unleased, the request's own listener sees only what comes while it is pending.
    const before: string[] = [];
    await c.request('echo', 'chatter', { count: 2 }, { onNotification: (m) => before.push(m) });
    await c.request('echo', 'chatter', { count: 2 });
    expect(before).toEqual(['note', 'note']);
  });

  it('keeps the server order and loses nothing under a burst of 5 000', async () => {
    const c = coordinators.make();
    const seen: number[] = [];
    c.onNotification('echo', 'note', (p) => {
      seen.push((p as { i: number }).i);
    });
    await c.register('echo', echoSpec());
    await c.request('echo', 'chatter', { count: 5_000 });
    expect(seen).toEqual(Array.from({ length: 5_000 }, (_, i) => i));
  });

  it('reports a throwing handler as handler-error and keeps delivering', async () => {
    const c = coordinators.make();
    const errors: unknown[] = [];
    c.on('handler-error', (e) => errors.push(e));
    const seen: number[] = [];
    c.onNotification('echo', 'note', (p) => {
      const i = (p as { i: number }).i;
      if (i === 1) throw new Error('bad handler');
      seen.push(i);
    });
    await c.register('echo', echoSpec());
    await c.request('echo', 'chatter', { count: 3 });
    expect(seen).toEqual([0, 2]);
    expect(errors).toEqual([
      expect.objectContaining({ key: 'echo', method: 'note', kind: 'notification' }),
    ]);
  });

  it('coordinator.notify reaches every ready replica', async () => {
    const c = coordinators.make();
    await c.register('echo', echoSpec(), { replicas: 3 });
    expect(await c.notify('echo', 'notifications/cancelled', { requestId: 'none-1' })).toBe(3);
    // Each replica heard it (before anything sent to it later): ask each one through a lease.
    const leases = await Promise.all([0, 1, 2].map(() => c.acquire('echo')));
    for (const lease of leases) expect(await lease.request('cancelled')).toContain('none-1');
    for (const lease of leases) lease.release();
    await expect(c.notify('echo', '')).rejects.toMatchObject({ field: 'method' });
  });
});

describe("protocol 'none'", () => {
  it('supervises a process that speaks no protocol: stdout lines as events, requests refused', async () => {
    const c = coordinators.make();
    const lines: string[] = [];
    c.on('stdout', (e) => lines.push(e.line));
    await c.register('plain', {
      command: process.execPath,
      args: [fixture('plain-process.mjs'), 'hello'],
      protocol: 'none',
    });
    await waitUntil(() => lines.includes('hello 0'), 'the first stdout line');
    await expect(c.request('plain', 'ping')).rejects.toMatchObject({
      code: 'ERR_ATOMVISOR_INVALID_ARGUMENT',
      field: 'spec.protocol',
    });
    await c.withConnection('plain', async (lease) => {
      await expect(lease.request('ping')).rejects.toMatchObject({ field: 'spec.protocol' });
    });
    await expect(c.notify('plain', 'x')).rejects.toMatchObject({ field: 'spec.protocol' });
    // It restarts like any other.
    const pid = c.snapshot('plain').replicas[0]?.pid as number;
    process.kill(pid, 'SIGKILL');
    await waitUntil(
      () =>
        c.snapshot('plain').replicas[0]?.generation === 2 && c.snapshot('plain').status === 'ready',
      'restarted',
    );
  });

  it('refuses what cannot work without a protocol, naming the field', async () => {
    const c = coordinators.make();
    const plain = { command: process.execPath, args: ['-e', ''], protocol: 'none' as const };
    await expect(
      c.register('a', { ...plain, initialize: { method: 'initialize' } }),
    ).rejects.toMatchObject({ field: 'spec.initialize' });
    await expect(
      c.register('b', { ...plain, liveness: { kind: 'jsonrpc', method: 'ping' } }),
    ).rejects.toMatchObject({ field: 'spec.liveness.kind' });
    await expect(c.register('c', { ...plain, protocol: 'grpc' as never })).rejects.toMatchObject({
      field: 'spec.protocol',
    });
    await expect(
      c.register('d', { ...plain, protocol: 'jsonrpc-lines', onRequest: { x: 1 as never } }),
    ).rejects.toMatchObject({ field: 'spec.onRequest.x' });
    expect(() => c.onRequest('', 'x', () => {})).toThrow(/key/);
    expect(() => c.onNotification('k', 'x', 'nope' as never)).toThrow(/handler/);
  });
});
