/**
 * Fuzz tests for both framings (line and Content-Length): random valid messages (random sizes,
 * multi-byte UTF-8, raw bytes, some over the limit) mixed with garbage and bad headers, the
 * stream split at random points (1 byte .. 64 KiB) into a reused scratch buffer. Every valid frame
 * must come out exactly once, in order, byte-identical; every bad or oversized frame must be
 * reported in its place; nothing may throw. Pure random bytes must decode the same however they
 * are split.
 *
 * Seeded: a failure names its seed; replay it with
 *   ATOMVISOR_FUZZ_SEED=<seed> ATOMVISOR_FUZZ_ITERATIONS=1 npx vitest run test/io/framing-fuzz.test.ts
 */
import { describe, expect, it } from 'vitest';
import { ContentLengthDecoder } from '../../src/io/content-length-decoder.ts';
import { createFrameDecoder, type FrameProblem } from '../../src/io/framing.ts';
import { Rng } from '../../src/race/prng.ts';

const BASE_SEED =
  process.env.ATOMVISOR_FUZZ_SEED === undefined
    ? Math.floor(Math.random() * 2 ** 32)
    : Number(process.env.ATOMVISOR_FUZZ_SEED) >>> 0;
const ITERATIONS = Number(process.env.ATOMVISOR_FUZZ_ITERATIONS ?? 1000);

/** Runs `body` once per seed; a failure names the seed that reproduces it. */
function fuzz(name: string, iterations: number, body: (rng: Rng, seed: number) => void): void {
  for (let i = 0; i < iterations; i++) {
    const seed = (BASE_SEED + i) >>> 0;
    try {
      body(new Rng(seed), seed);
    } catch (error) {
      const replay = `ATOMVISOR_FUZZ_SEED=${seed} ATOMVISOR_FUZZ_ITERATIONS=1 npx vitest run test/io/framing-fuzz.test.ts`;
      throw new Error(`${name}: failed at seed ${seed} (replay: ${replay}): ${String(error)}`, {
        cause: error,
      });
    }
  }
}

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[rng.int(items.length)]!;
}

/** A size: mostly small, some up to the limit, some right at it, a few over it. */
function size(rng: Rng, max: number): number {
  const r = rng.random();
  if (r < 0.75) return 1 + rng.int(Math.min(max, 200));
  if (r < 0.88) return 1 + rng.int(max);
  if (r < 0.95) return Math.max(1, max - 3 + rng.int(7));
  return max + 1 + rng.int(2 * max);
}

/**
 * Source bytes, made once from a fixed seed (so a run's seed alone replays it): text mixing ASCII
 * with 2-, 3- and 4-byte UTF-8 characters, and raw random bytes.
 */
const POOL_BYTES = 1 << 20;
const { TEXT, RAW } = (() => {
  const rng = new Rng(0x5eed);
  const text = Buffer.allocUnsafe(POOL_BYTES + 4);
  let at = 0;
  while (at < POOL_BYTES) {
    const r = rng.random();
    let char: string;
    if (r < 0.08) char = String.fromCodePoint(0x1f300 + rng.int(0x300));
    else if (r < 0.16) char = String.fromCharCode(0x20ac + rng.int(0x5000));
    else if (r < 0.24) char = String.fromCharCode(0xe0 + rng.int(0x100));
    else char = String.fromCharCode(0x20 + rng.int(0x5f));
    at += text.write(char, at, 'utf8');
  }
  const raw = Buffer.allocUnsafe(POOL_BYTES);
  for (let i = 0; i < POOL_BYTES; i++) raw[i] = rng.int(256);
  return { TEXT: text.subarray(0, POOL_BYTES), RAW: raw };
})();

/** Exactly `n` fresh bytes: valid UTF-8 text (whole characters), or raw bytes. */
function content(rng: Rng, n: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  let at = 0;
  const raw = rng.random() < 0.2;
  const pool = raw ? RAW : TEXT;
  while (at < n) {
    let from = rng.int(POOL_BYTES - 1);
    // Text starts on a character boundary.
    while (!raw && from > 0 && (pool[from]! & 0xc0) === 0x80) from--;
    at += pool.copy(out, at, from, Math.min(POOL_BYTES, from + (n - at)));
  }
  if (!raw && n > 0) {
    // Cut a character split by the end: replace its bytes with ASCII.
    let lead = n - 1;
    while (lead > 0 && (out[lead]! & 0xc0) === 0x80) lead--;
    const b = out[lead]!;
    const want = b < 0x80 ? 1 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
    if (lead + want > n) out.fill(0x78, lead, n);
  }
  return out;
}

/** `bytes` with every byte in `banned` replaced by '.'. */
function without(bytes: Buffer, banned: readonly number[]): Buffer {
  for (let i = 0; i < bytes.length; i++) if (banned.includes(bytes[i]!)) bytes[i] = 0x2e;
  return bytes;
}

/**
 * Feeds `stream` in random pieces through a scratch buffer that is overwritten after each
 * `feed()` (the decoder must keep copies), then ends it.
 */
function feedSplit(rng: Rng, decoder: { feed(c: Uint8Array): void; end(): void }, stream: Buffer) {
  // Tiny pieces only for small streams, to keep the run short.
  const profile = stream.length > 16 * 1024 ? 2 + rng.int(2) : rng.int(4);
  const maxPiece = [3, 64, 16 * 1024, 64 * 1024][profile]!;
  const scratch =
    rng.random() < 0.25
      ? Buffer.from(new SharedArrayBuffer(maxPiece))
      : Buffer.allocUnsafe(maxPiece);
  let at = 0;
  while (at < stream.length) {
    // Log-uniform piece sizes from 1 byte up to maxPiece.
    const n = Math.min(
      stream.length - at,
      Math.max(1, Math.floor(Math.exp(rng.random() * Math.log(maxPiece)))),
    );
    stream.copy(scratch, 0, at, at + n);
    decoder.feed(scratch.subarray(0, n));
    scratch.fill(0xa5, 0, n);
    at += n;
  }
  decoder.end();
}

type Out = { message: Buffer } | { problem: FrameProblem; detail: string };

function collect() {
  const out: Out[] = [];
  return {
    out,
    onMessage: (message: Buffer) => out.push({ message: Buffer.from(message) }),
    onProblem: (problem: FrameProblem, detail: string) => out.push({ problem, detail }),
  };
}

const describeOut = (o: Out) => ('message' in o ? `msg(${o.message.length})` : `!${o.problem}`);

describe('framing fuzz', () => {
  it(`line framing: ${ITERATIONS} random streams, every line exactly once, every oversized one reported`, () => {
    fuzz('lines', ITERATIONS, (rng) => {
      const max = pick(rng, [16, 200, 4096, 65_536]);
      const parts: Buffer[] = [];
      const expected: Out[] = [];
      const count = 1 + rng.int(max > 4096 ? 12 : 60);
      for (let k = 0; k < count; k++) {
        if (rng.random() < 0.1) {
          parts.push(Buffer.from(rng.random() < 0.5 ? '\n' : '\r\n')); // empty: skipped
          continue;
        }
        const body = without(content(rng, size(rng, max)), [0x0a]);
        const crlf = rng.random() < 0.3 || body[body.length - 1] === 0x0d;
        parts.push(body, Buffer.from(crlf ? '\r\n' : '\n'));
        const length = body.length + (crlf ? 1 : 0);
        expected.push(
          length > max
            ? { problem: 'oversized', detail: `a ${length}-byte line was dropped` }
            : { message: body },
        );
      }
      if (rng.random() < 0.3) {
        const tail = without(content(rng, size(rng, max)), [0x0a]);
        parts.push(tail);
        expected.push(
          tail.length > max
            ? { problem: 'oversized', detail: `a ${tail.length}-byte line was dropped` }
            : { problem: 'truncated', detail: `${tail.length} bytes without a final newline` },
        );
      }
      const { out, onMessage, onProblem } = collect();
      const protocol = rng.random() < 0.5 ? 'jsonrpc-lines' : 'none';
      feedSplit(
        rng,
        createFrameDecoder(protocol, onMessage, { maxMessageBytes: max, onProblem }),
        Buffer.concat(parts),
      );
      const fail = () => {
        // Only now the (slow) diff: kinds and sizes, then the first differing event.
        expect(out.map(describeOut)).toEqual(expected.map(describeOut));
        expect(out).toEqual(expected);
      };
      if (out.length !== expected.length) fail();
      for (let k = 0; k < out.length; k++) {
        const got = out[k]!;
        const want = expected[k]!;
        if ('message' in got && 'message' in want) {
          if (!got.message.equals(want.message)) fail();
        } else if (
          'message' in got ||
          'message' in want ||
          got.problem !== want.problem ||
          got.detail !== want.detail
        ) {
          fail();
        }
      }
    });
  });

  it(`Content-Length framing: ${ITERATIONS} random streams with bad headers and garbage, no valid frame lost`, () => {
    const tchar = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
    const garbageEnds = [0x20, 0x0a, 0x0d, 0x7b, 0x22, 0xff, 0x80, 0x00];
    fuzz('lsp', ITERATIONS, (rng) => {
      const max = pick(rng, [64, 1000, 16 * 1024, 70_000]);
      const maxHeaderBytes = pick(rng, [128, 512, 8192]);
      /** Bytes that cannot contain a `Content-Length:` token (no ':'). */
      const junk = (n: number) => without(content(rng, n), [0x3a]);
      type Item =
        | { kind: 'message'; body: Buffer }
        | { kind: 'oversized'; length: number }
        | { kind: 'bad' };
      const items: Item[] = [];
      const parts: Buffer[] = [];
      const count = 1 + rng.int(max > 4096 ? 12 : 40);
      for (let k = 0; k < count; k++) {
        const r = rng.random();
        if (r < 0.7) {
          // A valid frame; its body may hold anything, frame-like bytes included.
          let body = content(rng, rng.random() < 0.05 ? 0 : size(rng, max));
          if (rng.random() < 0.1) {
            body = Buffer.concat([body, Buffer.from('\r\n\r\nContent-Length: 3\r\n\r\nabc')]);
          }
          const n = body.length;
          const header = pick(rng, [
            `Content-Length: ${n}`,
            `content-length:${n}`,
            `Content-Type: application/vscode-jsonrpc; charset=utf-8\r\nContent-Length: ${n}`,
            `Content-Length: ${n}\r\nContent-Type: x`,
            `CONTENT-LENGTH: \t${n} \t`,
            `Content-Length: ${n}\r\nContent-Length: ${n}`,
            `Content-Length: 000${n}`,
          ]);
          parts.push(Buffer.from(`${header}\r\n\r\n`, 'latin1'), body);
          items.push(n > max ? { kind: 'oversized', length: n } : { kind: 'message', body });
          continue;
        }
        items.push({ kind: 'bad' });
        const n = 1 + rng.int(300);
        switch (rng.int(7)) {
          case 0: {
            // Garbage: no ':' so no header line, and a last byte that cannot glue to a name.
            const g = junk(1 + rng.int(rng.random() < 0.2 ? 3 * maxHeaderBytes : 100));
            let last = pick(rng, garbageEnds);
            if (tchar.test(String.fromCharCode(last))) last = 0x20;
            g[g.length - 1] = last;
            parts.push(g);
            break;
          }
          case 1:
            parts.push(Buffer.from('Content-Type: text/plain\r\n\r\n'), junk(n));
            break;
          case 2:
            parts.push(Buffer.from(`Content-Length: -${n}\r\n\r\n`), junk(n));
            break;
          case 3: {
            const value = pick(rng, [`${n}x`, 'abc', '', '1234567890123456', `+${n}`, `${n}.0`]);
            parts.push(Buffer.from(`Content-Length: ${value}\r\n\r\n`), junk(n));
            break;
          }
          case 4:
            parts.push(Buffer.from(`Content-Length: ${n}\r\nContent-Length: ${n + 1}\r\n\r\n`));
            parts.push(junk(n + 1));
            break;
          case 5: {
            const pad = 'p'.repeat(maxHeaderBytes + rng.int(100));
            parts.push(Buffer.from(`Content-Length: ${n}\r\nX-Pad: ${pad}\r\n\r\n`), junk(n));
            break;
          }
          default:
            parts.push(Buffer.from(`Content-Length: ${n}\n\n`), junk(n));
        }
      }
      let partial = false;
      if (rng.random() < 0.3) {
        const whole = Buffer.concat([Buffer.from('Content-Length: 50\r\n\r\n'), junk(50)]);
        parts.push(whole.subarray(0, 1 + rng.int(whole.length - 1)));
        partial = true;
      }
      const { out, onMessage, onProblem } = collect();
      const decoder = new ContentLengthDecoder(onMessage, {
        maxMessageBytes: max,
        maxHeaderBytes,
        onProblem,
      });
      feedSplit(rng, decoder, Buffer.concat(parts));

      // Every valid frame exactly once, in order, byte-identical.
      const wanted = items.filter((i) => i.kind === 'message');
      const got = out.filter((o) => 'message' in o);
      expect(got.length, 'messages').toBe(wanted.length);
      for (let k = 0; k < got.length; k++) {
        if (!got[k]!.message.equals(wanted[k]!.body)) {
          expect(got[k]!.message.toString('hex'), `message ${k}`).toBe(
            wanted[k]!.body.toString('hex'),
          );
        }
      }
      // Between two messages: each oversized frame reported once, with its size, in order; at
      // least one 'invalid' if bad frames or garbage were there, none otherwise.
      const gaps = (seq: (Item | Out)[]) => {
        const result: (Item | Out)[][] = [[]];
        for (const x of seq) {
          if ('message' in x || ('kind' in x && x.kind === 'message')) result.push([]);
          else result.at(-1)!.push(x);
        }
        return result;
      };
      const wantGaps = gaps(items);
      const gotGaps = gaps(out);
      expect(gotGaps.length).toBe(wantGaps.length);
      for (let g = 0; g < wantGaps.length; g++) {
        const last = g === wantGaps.length - 1;
        const want = wantGaps[g] as Item[];
        const have = gotGaps[g] as { problem: FrameProblem; detail: string }[];
        const where = `gap ${g}: want ${JSON.stringify(want.map((i) => i.kind))}, got ${JSON.stringify(have.map((p) => p.problem))}`;
        expect(
          have
            .filter((p) => p.problem === 'oversized')
            .map((p) => p.detail.match(/a (\d+)-byte/)?.[1]),
          where,
        ).toEqual(want.filter((i) => i.kind === 'oversized').map((i) => String(i.length)));
        const bad = want.some((i) => i.kind === 'bad');
        const invalid = have.filter((p) => p.problem === 'invalid').length;
        const truncated = have.filter((p) => p.problem === 'truncated').length;
        if (!last) {
          expect(truncated, where).toBe(0);
          expect(invalid > 0, where).toBe(bad);
        } else {
          if (!bad && !partial) expect(invalid + truncated, where).toBe(0);
          if (bad || partial) expect(invalid + truncated, where).toBeGreaterThan(0);
          if (partial && !bad) expect(have.at(-1)?.problem, where).toBe('truncated');
        }
      }
      const stats = decoder.stats;
      expect(stats.peakBufferedBytes).toBeLessThanOrEqual(Math.max(max, maxHeaderBytes + 4));
      expect(stats.bufferedBytes).toBe(0);
    });
  });

  it(`random bytes: ${ITERATIONS} streams decode the same whole and split, within bounds`, () => {
    const fragments = [
      'Content-Length: ',
      'content-length:',
      '\r\n\r\n',
      '\r\n',
      '\n',
      ':',
      '7',
      '12',
    ];
    fuzz('random', ITERATIONS, (rng) => {
      const pieces: Buffer[] = [];
      const n = 1 + rng.int(80);
      for (let k = 0; k < n; k++) {
        pieces.push(
          rng.random() < 0.5
            ? Buffer.from(pick(rng, fragments), 'latin1')
            : content(rng, 1 + rng.int(rng.random() < 0.1 ? 5000 : 40)),
        );
      }
      const stream = Buffer.concat(pieces);
      const max = pick(rng, [8, 64, 1000]);
      const maxHeaderBytes = pick(rng, [32, 100, 8192]);
      for (const protocol of ['lsp', 'jsonrpc-lines'] as const) {
        const make = (
          onMessage: (m: Buffer) => void,
          onProblem: (p: FrameProblem, d: string) => void,
        ) =>
          protocol === 'lsp'
            ? new ContentLengthDecoder(onMessage, {
                maxMessageBytes: max,
                maxHeaderBytes,
                onProblem,
              })
            : createFrameDecoder(protocol, onMessage, { maxMessageBytes: max, onProblem });
        const whole = collect();
        const one = make(whole.onMessage, whole.onProblem);
        one.feed(stream);
        one.end();
        const split = collect();
        feedSplit(rng, make(split.onMessage, split.onProblem), stream);
        expect(split.out.length, protocol).toBe(whole.out.length);
        for (let k = 0; k < whole.out.length; k++) {
          const a = whole.out[k]!;
          const b = split.out[k]!;
          if ('message' in a && 'message' in b) {
            if (!b.message.equals(a.message) || a.message.length > max) {
              expect(b.message.toString('hex'), `${protocol} message ${k}`).toBe(
                a.message.toString('hex'),
              );
              expect(a.message.length).toBeLessThanOrEqual(max);
            }
          } else {
            expect(b, `${protocol} event ${k}`).toEqual(a);
          }
        }
      }
    });
  });
});
