import { describe, expect, it } from 'vitest';
import { ConnectionLostError, JsonRpcError } from '../../src/errors.ts';
import {
  classify,
  encodeErrorResponse,
  encodeNotification,
  encodeRequest,
  encodeResponse,
} from '../../src/io/jsonrpc.ts';

describe('classify', () => {
  it('recognizes each well-formed message kind', () => {
    expect(classify('{"jsonrpc":"2.0","id":1,"result":{"a":1}}')).toEqual({
      kind: 'response',
      id: 1,
      result: { a: 1 },
    });
    expect(classify('{"jsonrpc":"2.0","id":"x","result":null}')).toEqual({
      kind: 'response',
      id: 'x',
      result: null,
    });
    expect(
      classify('{"jsonrpc":"2.0","id":7,"error":{"code":-32601,"message":"nope","data":[1]}}'),
    ).toEqual({
      kind: 'error-response',
      id: 7,
      error: { code: -32601, message: 'nope', data: [1] },
    });
    expect(
      classify('{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse"}}'),
    ).toEqual({ kind: 'error-response', id: null, error: { code: -32700, message: 'parse' } });
    expect(
      classify('{"jsonrpc":"2.0","id":3,"method":"sampling/create","params":{"q":1}}'),
    ).toEqual({ kind: 'request', id: 3, method: 'sampling/create', params: { q: 1 } });
    expect(classify('{"jsonrpc":"2.0","method":"notifications/progress","params":[1,2]}')).toEqual({
      kind: 'notification',
      method: 'notifications/progress',
      params: [1, 2],
    });
    expect(classify(' {"jsonrpc":"2.0","method":"n"} ')).toEqual({
      kind: 'notification',
      method: 'n',
      params: undefined,
    });
  });

  it('keeps a result that is falsy (0, false, "") as a response', () => {
    for (const result of [0, false, '', null]) {
      const line = JSON.stringify({ jsonrpc: '2.0', id: 1, result });
      expect(classify(line)).toEqual({ kind: 'response', id: 1, result });
    }
  });

  const invalid: [string, string, RegExp][] = [
    ['malformed JSON', '{"jsonrpc":"2.0",', /malformed JSON/],
    ['plain text', 'this is not json {', /malformed JSON/],
    ['empty line', '', /malformed JSON/],
    ['a number', '42', /expected a JSON object, got number/],
    ['null', 'null', /got null/],
    ['a batch', '[{"jsonrpc":"2.0","id":1,"result":1}]', /batch/],
    ['no jsonrpc', '{"id":1,"result":1}', /"jsonrpc": "2.0"/],
    ['jsonrpc 1.0', '{"jsonrpc":"1.0","id":1,"result":1}', /"1.0"/],
    ['numeric jsonrpc', '{"jsonrpc":2,"id":1,"result":1}', /jsonrpc/],
    [
      'both result and error',
      '{"jsonrpc":"2.0","id":1,"result":1,"error":{"code":1,"message":"m"}}',
      /both/,
    ],
    ['neither result nor error', '{"jsonrpc":"2.0","id":1}', /neither/],
    ['response without id', '{"jsonrpc":"2.0","result":1}', /must carry an id/],
    [
      'object id',
      '{"jsonrpc":"2.0","id":{},"result":1}',
      /id must be a string or a number, got object/,
    ],
    ['boolean id', '{"jsonrpc":"2.0","id":true,"result":1}', /got boolean/],
    ['null id on a result', '{"jsonrpc":"2.0","id":null,"result":1}', /got null/],
    ['array id on a request', '{"jsonrpc":"2.0","id":[1],"method":"m"}', /got an array/],
    ['null id on a request', '{"jsonrpc":"2.0","id":null,"method":"m"}', /got null/],
    [
      'numeric method',
      '{"jsonrpc":"2.0","id":1,"method":5}',
      /method must be a string, got number/,
    ],
    ['null method', '{"jsonrpc":"2.0","method":null}', /method must be a string/],
    ['method with result', '{"jsonrpc":"2.0","id":1,"method":"m","result":1}', /cannot also carry/],
    ['string params', '{"jsonrpc":"2.0","method":"m","params":"x"}', /params must be/],
    ['null params', '{"jsonrpc":"2.0","method":"m","params":null}', /params must be/],
    ['error not an object', '{"jsonrpc":"2.0","id":1,"error":"boom"}', /error must be an object/],
    ['error without code', '{"jsonrpc":"2.0","id":1,"error":{"message":"m"}}', /error.code/],
    [
      'fractional error code',
      '{"jsonrpc":"2.0","id":1,"error":{"code":1.5,"message":"m"}}',
      /error.code/,
    ],
    ['error without message', '{"jsonrpc":"2.0","id":1,"error":{"code":1}}', /error.message/],
  ];
  it.each(invalid)('%s → invalid with a reason, never a throw', (_name, line, reason) => {
    const got = classify(line);
    expect(got.kind).toBe('invalid');
    expect(got.kind === 'invalid' && got.reason).toMatch(reason);
  });
});

describe('encoders', () => {
  const tricky = { text: 'line1\nline2\r\n\u2028\u2029 "quoted" \\ \t\u0000 🎉' };

  it('produce exactly one line that round-trips through classify', () => {
    const lines = [
      encodeRequest(1, 'echo', tricky),
      encodeRequest('abc', 'ping'),
      encodeNotification('notifications/progress', { progressToken: 't', progress: 1 }),
      encodeNotification('notifications/initialized'),
      encodeResponse(9, tricky),
      encodeResponse(10, undefined),
      encodeErrorResponse(11, { code: -32000, message: 'multi\nline', data: tricky }),
      encodeErrorResponse(null, { code: -32700, message: 'parse error' }),
    ];
    for (const line of lines) {
      expect(line.endsWith('\n')).toBe(true);
      expect(line.indexOf('\n')).toBe(line.length - 1);
      expect(classify(line).kind).not.toBe('invalid');
    }
    expect(classify(lines[0]!)).toEqual({ kind: 'request', id: 1, method: 'echo', params: tricky });
    expect(classify(lines[1]!)).toEqual({
      kind: 'request',
      id: 'abc',
      method: 'ping',
      params: undefined,
    });
    expect(lines[1]).not.toContain('params');
    expect(classify(lines[4]!)).toEqual({ kind: 'response', id: 9, result: tricky });
    expect(classify(lines[5]!)).toEqual({ kind: 'response', id: 10, result: null });
    expect(classify(lines[6]!)).toEqual({
      kind: 'error-response',
      id: 11,
      error: { code: -32000, message: 'multi\nline', data: tricky },
    });
  });

  it('refuse values that would not make a valid message, with typed errors', () => {
    const invalidArgument = (field: string) =>
      expect.objectContaining({ code: 'ERR_ATOMVISOR_INVALID_ARGUMENT', field });
    expect(() => encodeRequest(1, 'm', { big: 1n } as never)).toThrow(invalidArgument('params'));
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => encodeNotification('m', cyclic)).toThrow(invalidArgument('params'));
    expect(() => encodeRequest(Number.NaN, 'm')).toThrow(invalidArgument('id'));
    expect(() => encodeRequest(null as never, 'm')).toThrow(invalidArgument('id'));
    expect(() => encodeRequest(1, '')).toThrow(invalidArgument('method'));
    expect(() => encodeRequest(1, 'm', 'text' as never)).toThrow(invalidArgument('params'));
    expect(() => encodeRequest(1, 'm', null as never)).toThrow(invalidArgument('params'));
    expect(() => encodeErrorResponse(1, { code: 1.5, message: 'm' })).toThrow(
      invalidArgument('error'),
    );
  });
});

describe('errors', () => {
  it('JsonRpcError carries the remote code, message and data under a stable code', () => {
    const error = new JsonRpcError(
      { code: -32602, message: 'bad params', data: { field: 'x' } },
      'echo',
    );
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBe('ERR_ATOMVISOR_JSONRPC');
    expect(error.name).toBe('JsonRpcError');
    expect(error.rpcCode).toBe(-32602);
    expect(error.rpcMessage).toBe('bad params');
    expect(error.data).toEqual({ field: 'x' });
    expect(error.method).toBe('echo');
    expect(error.message).toContain('bad params');
    expect(error.message).toContain('-32602');
  });

  it('ConnectionLostError says how the process ended', () => {
    const exited = new ConnectionLostError(3, null);
    expect(exited.code).toBe('ERR_ATOMVISOR_CONNECTION_LOST');
    expect(exited.exitCode).toBe(3);
    expect(exited.message).toContain('code 3');
    const killed = new ConnectionLostError(null, 'SIGKILL');
    expect(killed.signal).toBe('SIGKILL');
    expect(killed.message).toContain('SIGKILL');
  });
});
