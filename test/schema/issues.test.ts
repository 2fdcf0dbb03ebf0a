/**
 * The one place that words validation failures (src/schema/issues.ts): dotted paths for any key,
 * and reasons that name what was expected and what came.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { resolveOptions } from '../../src/coordinator/options.ts';
import { resolveSpec } from '../../src/coordinator/spec.ts';
import { joinPath, parseOrThrow, problemsOf } from '../../src/schema/issues.ts';

const refusal = (call: () => unknown) => {
  try {
    call();
  } catch (error) {
    const { code, field, reason, message } = error as Record<string, string>;
    return { code, field, reason, message };
  }
  throw new Error('accepted');
};

describe('validation problems', () => {
  it('join paths with dots, indexes and quoted odd keys', () => {
    expect(joinPath('', ['a', 'b'])).toBe('a.b');
    expect(joinPath('options', ['env', 'allow', 0])).toBe('options.env.allow[0]');
    expect(joinPath('servers', ['my-server', 'command'])).toBe('servers.my-server.command');
    expect(joinPath('spec.onRequest', ['notifications/message'])).toBe(
      'spec.onRequest["notifications/message"]',
    );
    expect(joinPath('', [])).toBe('');
  });

  it('say what was expected and what came, naming the field', () => {
    expect(refusal(() => resolveOptions({ capacity: 0 }))).toEqual({
      code: 'ERR_ATOMVISOR_INVALID_ARGUMENT',
      field: 'options.capacity',
      reason: 'must be ≥ 1, got 0',
      message: 'invalid options.capacity: must be ≥ 1, got 0',
    });
    const reason = (call: () => unknown) => {
      const r = refusal(call);
      return `${r.field}: ${r.reason}`;
    };
    expect(reason(() => resolveOptions({ maxInFlight: 1.5 }))).toBe(
      'options.maxInFlight: expected an integer, got 1.5',
    );
    expect(reason(() => resolveOptions({ requestTimeoutMs: Number.NaN }))).toBe(
      'options.requestTimeoutMs: expected a number, got NaN',
    );
    expect(reason(() => resolveOptions({ stop: [] }))).toBe(
      'options.stop: expected an object, got an array',
    );
    expect(reason(() => resolveOptions({ capcity: 1 }))).toBe('options.capcity: unknown field');
    expect(reason(() => resolveOptions(7))).toBe('options: expected an object, got 7');
    expect(reason(() => resolveSpec(undefined))).toBe('spec: is required');
    expect(reason(() => resolveSpec({ command: 'x', protocol: 'grpc' }))).toBe(
      'spec.protocol: expected one of jsonrpc-lines, lsp, none, got "grpc"',
    );
    expect(reason(() => resolveSpec({ command: 'x', onRequest: { '': () => {} } }))).toBe(
      'spec.onRequest[""]: must not be empty',
    );
    expect(reason(() => resolveSpec({ command: 'x', liveness: { periodMs: 5 } }))).toBe(
      'spec.liveness.kind: is required (one of jsonrpc, exec, tcp, http, module)',
    );
  });

  it('list every problem for a config, the first for the API', () => {
    const schema = z.strictObject({ a: z.int().min(1), b: z.string() });
    const parsed = schema.safeParse({ a: 0, b: 1, c: true }, { reportInput: true });
    expect(parsed.success).toBe(false);
    expect(problemsOf(parsed.error?.issues ?? [], 'x')).toEqual([
      { path: 'x.a', reason: 'must be ≥ 1, got 0' },
      { path: 'x.b', reason: 'expected a string, got 1' },
      { path: 'x.c', reason: 'unknown field' },
    ]);
    expect(refusal(() => parseOrThrow(schema, { a: 0, b: 1, c: true }, 'x'))).toMatchObject({
      field: 'x.a',
      reason: 'must be ≥ 1, got 0',
    });
    expect(parseOrThrow(schema, { a: 2, b: '' }, 'x')).toEqual({ a: 2, b: '' });
  });
});
