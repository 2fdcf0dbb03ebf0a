import { describe, expect, it } from 'vitest';
import {
  ContentLengthDecoder,
  type ContentLengthDecoderOptions,
  DEFAULT_MAX_HEADER_BYTES,
  DEFAULT_MAX_MESSAGE_BYTES,
} from '../../src/io/content-length-decoder.ts';
import {
  contentLengthHeaderSize,
  encodeContentLengthHeader,
  writeContentLengthHeader,
} from '../../src/io/content-length-header.ts';
import { createFrameDecoder, type FrameProblem } from '../../src/io/framing.ts';

const bytes = (text: string) => Buffer.from(text, 'utf8');
const frame = (body: string) => `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

/** A decoder that records everything it reports, in order (bodies copied: views are call-only). */
function recorder(options: Omit<ContentLengthDecoderOptions, 'onProblem'> = {}) {
  const events: (string | { problem: FrameProblem; detail: string })[] = [];
  const decoder = new ContentLengthDecoder((body) => events.push(body.toString('utf8')), {
    ...options,
    onProblem: (problem, detail) => events.push({ problem, detail }),
  });
  const messages = () => events.filter((e): e is string => typeof e === 'string');
  const problems = () => events.filter((e) => typeof e !== 'string').map((e) => e.problem);
  /** Messages, and problems as `!kind`, in the order they came. */
  const flat = () => events.map((e) => (typeof e === 'string' ? e : `!${e.problem}`));
  return { decoder, events, messages, problems, flat };
}

/** Feeds `text` whole, then one byte at a time into a fresh recorder; both must agree. */
function bothWays(text: string, options: Omit<ContentLengthDecoderOptions, 'onProblem'> = {}) {
  const whole = recorder(options);
  whole.decoder.feed(bytes(text));
  whole.decoder.end();
  const single = recorder(options);
  for (const byte of bytes(text)) single.decoder.feed(Uint8Array.of(byte));
  single.decoder.end();
  expect(single.flat()).toEqual(whole.flat());
  return whole;
}

describe('ContentLengthDecoder', () => {
  it('frames bodies by Content-Length, several per chunk and one byte at a time', () => {
    const bodies = [
      '{"jsonrpc":"2.0","id":1}',
      'héllo € 𝄞 🎉',
      '\r\n\r\nContent-Length: 3\r\n\r\nabc',
    ];
    const { flat, decoder } = bothWays(bodies.map(frame).join(''));
    expect(flat()).toEqual(bodies);
    expect(decoder.stats).toMatchObject({ messages: 3, invalid: 0, bufferedBytes: 0 });
  });

  it('a body within one chunk is a view of it (no copy); a body across chunks is copied once', () => {
    const seen: { sameMemory: boolean; text: string }[] = [];
    const text = `${frame('first')}${frame('second')}`;
    const chunk = Buffer.alloc(text.length - 3); // its own ArrayBuffer, not the shared pool
    chunk.write(text);
    let current = chunk;
    const decoder = new ContentLengthDecoder((body) =>
      seen.push({ sameMemory: body.buffer === current.buffer, text: body.toString() }),
    );
    decoder.feed(chunk);
    decoder.feed(bytes(text.slice(-3)));
    // The usual case: a chunk that holds exactly one frame.
    current = Buffer.alloc(frame('third').length);
    current.write(frame('third'));
    decoder.feed(current);
    expect(seen).toEqual([
      { sameMemory: true, text: 'first' },
      { sameMemory: false, text: 'second' },
      { sameMemory: true, text: 'third' },
    ]);
  });

  it('keeps a copied body intact while the next body is held, over many turns', () => {
    // Each chunk completes one body and starts the next: the two body buffers take turns.
    const { decoder, messages } = recorder();
    const bodies = Array.from({ length: 200 }, (_, i) => `body-${i}-${'z'.repeat((i * 13) % 97)}`);
    const text = bodies.map(frame).join('');
    const cuts = bodies.map((_, i) => text.indexOf(frame(bodies[i]!)) + 30);
    let at = 0;
    for (const cut of [...cuts, text.length]) {
      decoder.feed(bytes(text.slice(at, cut)));
      at = cut;
    }
    expect(messages()).toEqual(bodies);
  });

  it('tolerates other headers, any case of names, and spaces around the value', () => {
    const text = [
      'Content-Type: application/vscode-jsonrpc; charset=utf-8\r\nContent-Length: 2\r\n\r\nab',
      'content-length:2\r\n\r\ncd',
      'CONTENT-LENGTH: \t2 \t\r\nX-Other: x:y\r\n\r\nef',
      'Content-Length: 2\r\nContent-Length: 2\r\n\r\ngh',
      'Content-Length: 0002\r\n\r\nij',
    ].join('');
    expect(bothWays(text).flat()).toEqual(['ab', 'cd', 'ef', 'gh', 'ij']);
  });

  it('hands over an empty body for Content-Length: 0', () => {
    expect(bothWays(`Content-Length: 0\r\n\r\n${frame('next')}`).flat()).toEqual(['', 'next']);
  });

  it.each([
    ['missing', 'Content-Type: text/plain\r\n\r\n{"lost":1}', /without Content-Length/],
    ['negative', 'Content-Length: -5\r\n\r\nhello', /"-5" is not a non-negative integer/],
    ['non-numeric', 'Content-Length: 5x\r\n\r\nhello', /"5x" is not a non-negative integer/],
    ['empty', 'Content-Length: \r\n\r\nhello', /"" is not a non-negative integer/],
    ['16 digits', 'Content-Length: 1234567890123456\r\n\r\nhi', /not a non-negative integer/],
    [
      'conflicting duplicates',
      'Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!',
      /conflicting Content-Length headers \(5 and 6\)/,
    ],
  ])(
    'a bad frame (%s) is reported once, its body skipped, the next frame kept',
    (_name, bad, detail) => {
      const { flat, events } = bothWays(`${frame('before')}${bad}${frame('after')}`);
      expect(flat()).toEqual(['before', '!invalid', 'after']);
      expect(events[1]).toMatchObject({ detail: expect.stringMatching(detail) });
    },
  );

  it.each([
    ['a log line', 'debug: starting up\n'],
    ['bytes glued to the header', 'xyz'],
    ['a blank line', '\r\n'],
    ['an empty header block', '\r\n\r\n'],
    ['a bare \\n header', 'Content-Length: 3\n\nabc'],
    ['binary', '\u0000\u00ff\u0001'],
  ])('garbage before a header (%s) is reported and costs only itself', (_name, garbage) => {
    const { flat } = bothWays(`${frame('one')}${garbage}${frame('two')}${frame('three')}`);
    expect(flat()).toEqual(['one', '!invalid', 'two', 'three']);
  });

  it('garbage before a frame whose first header is not Content-Length: resync finds it', () => {
    const next = 'Content-Type: x\r\nContent-Length: 3\r\n\r\nabc';
    const { flat } = bothWays(`Content-Length: x\r\n\r\njunk${next}${frame('z')}`);
    expect(flat()).toEqual(['!invalid', 'abc', 'z']);
  });

  it('a header block over maxHeaderBytes is reported; a long garbage run does not hide the next frame', () => {
    const limit = 256;
    // Content-Length first, then a header too long: the frame is dropped with its body.
    const long = `Content-Length: 5\r\nX-Pad: ${'p'.repeat(400)}\r\n\r\nhello`;
    expect(bothWays(`${long}${frame('after')}`, { maxHeaderBytes: limit }).flat()).toEqual([
      '!invalid',
      'after',
    ]);
    // Garbage just short of the limit: the valid header that follows crosses the limit, and is
    // still found by scanning the held bytes again.
    for (const size of [limit - 20, limit - 3, limit, limit + 5, 3 * limit]) {
      const { flat, decoder } = bothWays(`${'g'.repeat(size)} ${frame('found')}`, {
        maxHeaderBytes: limit,
      });
      expect(flat(), `garbage of ${size} bytes`).toEqual(['!invalid', 'found']);
      expect(decoder.stats.peakBufferedBytes).toBeLessThanOrEqual(limit + 4);
    }
  });

  it('an oversized body is reported at its header and skipped by counting, never buffered', () => {
    const { decoder, flat, events } = recorder({ maxMessageBytes: 100 });
    decoder.feed(bytes(frame('small')));
    decoder.feed(bytes('Content-Length: 100000\r\n\r\n'));
    expect(flat()).toEqual(['small', '!oversized']);
    expect(events[1]).toMatchObject({ detail: expect.stringContaining('100000-byte message') });
    // The body may contain anything, headers included: it is skipped by its count.
    const body = Buffer.alloc(100_000, 0x41);
    body.write(frame('inside'), 500);
    for (let at = 0; at < body.length; at += 1000) decoder.feed(body.subarray(at, at + 1000));
    decoder.feed(bytes(frame('after')));
    expect(flat()).toEqual(['small', '!oversized', 'after']);
    expect(decoder.stats.peakBufferedBytes).toBeLessThan(100);
    expect(decoder.stats).toMatchObject({ messages: 2, oversized: 1 });
  });

  it('accepts a body of exactly maxMessageBytes', () => {
    const { flat } = bothWays(`${frame('12345678')}${frame('123456789')}`, { maxMessageBytes: 8 });
    expect(flat()).toEqual(['12345678', '!oversized']);
  });

  it('end() reports a partial header, body or skipped body as truncated, then starts afresh', () => {
    for (const [partial, detail] of [
      ['Content-Len', /inside a header block \(11 bytes\)/],
      ['Content-Length: 10\r\n\r\nabc', /3 bytes into a 10-byte body/],
      ['Content-Length: 500\r\n\r\nabc', /3 bytes into an oversized 500-byte body/],
    ] as const) {
      const { decoder, flat, events } = recorder({ maxMessageBytes: 100 });
      decoder.feed(bytes(`${frame('done')}${partial}`));
      decoder.end();
      expect(flat().slice(-1)).toEqual(['!truncated']);
      expect(events.at(-1)).toMatchObject({ detail: expect.stringMatching(detail) });
      expect(decoder.stats).toMatchObject({ truncated: 1, bufferedBytes: 0 });
      decoder.feed(bytes(frame('new')));
      decoder.end();
      expect(flat().slice(-1)).toEqual(['new']);
    }
  });

  it('end() while scanning for a header, or with nothing pending, reports nothing more', () => {
    const { decoder, flat } = recorder();
    decoder.feed(bytes('Content-Length: nope\r\n\r\nleftover'));
    decoder.end();
    decoder.end();
    expect(flat()).toEqual(['!invalid']);
  });

  it('does not keep a reference to the caller chunk', () => {
    const { decoder, flat } = recorder();
    const text = frame('reused');
    const scratch = Buffer.alloc(text.length);
    for (let at = 0; at < text.length; at += 4) {
      const piece = text.slice(at, at + 4);
      scratch.write(piece);
      decoder.feed(scratch.subarray(0, piece.length));
      scratch.fill(0x7a);
    }
    expect(flat()).toEqual(['reused']);
  });

  it('updates its state for the whole chunk before the first callback runs', () => {
    const seen: number[] = [];
    const decoder: ContentLengthDecoder = new ContentLengthDecoder(() =>
      seen.push(decoder.stats.messages),
    );
    decoder.feed(bytes(`${frame('a')}${frame('b')}`));
    expect(seen).toEqual([2, 2]);
  });

  it('a throwing callback loses nothing: the rest are delivered and the first error rethrown', () => {
    const seen: string[] = [];
    const decoder = new ContentLengthDecoder((body) => {
      seen.push(body.toString());
      if (body.toString() === 'bad') throw new Error('callback failed');
    });
    expect(() => decoder.feed(bytes(`${frame('a')}${frame('bad')}${frame('b')}Content-L`))).toThrow(
      'callback failed',
    );
    decoder.feed(bytes('ength: 1\r\n\r\nc'));
    expect(seen).toEqual(['a', 'bad', 'b', 'c']);
  });

  it('has documented defaults and refuses bad options with typed errors', () => {
    const decoder = new ContentLengthDecoder(() => {});
    expect(decoder.maxMessageBytes).toBe(DEFAULT_MAX_MESSAGE_BYTES);
    expect(decoder.maxHeaderBytes).toBe(DEFAULT_MAX_HEADER_BYTES);
    expect(DEFAULT_MAX_HEADER_BYTES).toBe(8192);
    for (const [options, field] of [
      [{ maxMessageBytes: 0 }, 'maxMessageBytes'],
      [{ maxMessageBytes: 1.5 }, 'maxMessageBytes'],
      [{ maxHeaderBytes: 16 }, 'maxHeaderBytes'],
      [{ onProblem: 3 }, 'onProblem'],
    ] as const) {
      expect(
        () => new ContentLengthDecoder(() => {}, options as ContentLengthDecoderOptions),
      ).toThrow(expect.objectContaining({ code: 'ERR_ATOMVISOR_INVALID_ARGUMENT', field }));
    }
    expect(() => new ContentLengthDecoder(null as unknown as () => void)).toThrow(
      expect.objectContaining({ field: 'onMessage' }),
    );
    expect(() => decoder.feed('text' as unknown as Uint8Array)).toThrow(
      expect.objectContaining({ field: 'chunk' }),
    );
  });
});

describe('Content-Length encoder', () => {
  it('encodes the header a decoder reads back', () => {
    const body = bytes('{"jsonrpc":"2.0","method":"x","params":"é"}');
    const header = encodeContentLengthHeader(body.length);
    expect(header.toString('latin1')).toBe(`Content-Length: ${body.length}\r\n\r\n`);
    expect(contentLengthHeaderSize(body.length)).toBe(header.length);
    const target = Buffer.alloc(100, 0x2e);
    const written = writeContentLengthHeader(target, 3, body.length);
    expect(target.subarray(3, 3 + written).equals(header)).toBe(true);
    expect(target[2]).toBe(0x2e);
    expect(target[3 + written]).toBe(0x2e);
    const { flat } = recorder();
    const decoded = recorder();
    decoded.decoder.feed(Buffer.concat([header, body]));
    expect(decoded.flat()).toEqual([body.toString()]);
    expect(flat()).toEqual([]);
  });

  it('refuses bad lengths and a target too small', () => {
    for (const bad of [-1, 1.5, Number.NaN]) {
      expect(() => encodeContentLengthHeader(bad)).toThrow(
        expect.objectContaining({ field: 'byteLength' }),
      );
    }
    expect(() => writeContentLengthHeader(Buffer.alloc(10), 0, 5)).toThrow(
      expect.objectContaining({ field: 'offset' }),
    );
  });
});

describe('createFrameDecoder', () => {
  it('gives line framing to jsonrpc-lines and none, Content-Length framing to lsp', () => {
    const results: Record<string, string[]> = {};
    const input = `a\n${frame('b')}\n`;
    for (const protocol of ['jsonrpc-lines', 'none', 'lsp'] as const) {
      const out: string[] = [];
      const decoder = createFrameDecoder(protocol, (m) => out.push(m.toString()), {
        onProblem: (problem) => out.push(`!${problem}`),
      });
      decoder.feed(bytes(input));
      decoder.end();
      results[protocol] = out;
    }
    expect(results['jsonrpc-lines']).toEqual(['a', 'Content-Length: 1', 'b']); // '\r\n' lines
    expect(results.none).toEqual(results['jsonrpc-lines']);
    // 'a\n' before the first header is garbage; the trailing '\n' is a partial header block.
    expect(results.lsp).toEqual(['!invalid', 'b', '!truncated']);
  });

  it('passes maxMessageBytes on and words line problems like the IO worker', () => {
    const problems: [FrameProblem, string][] = [];
    const decoder = createFrameDecoder('jsonrpc-lines', () => {}, {
      maxMessageBytes: 3,
      onProblem: (problem, detail) => problems.push([problem, detail]),
    });
    decoder.feed(bytes('abcd\nab'));
    decoder.end();
    expect(problems).toEqual([
      ['oversized', 'a 4-byte line was dropped'],
      ['truncated', '2 bytes without a final newline'],
    ]);
    const lsp = createFrameDecoder('lsp', () => {}, {
      maxMessageBytes: 3,
      onProblem: (problem, detail) => problems.push([problem, detail]),
    });
    lsp.feed(bytes(frame('abcd')));
    expect(problems.at(-1)?.[0]).toBe('oversized');
  });

  it('refuses an unknown protocol and bad options', () => {
    expect(() => createFrameDecoder('http' as 'lsp', () => {})).toThrow(
      expect.objectContaining({ field: 'protocol' }),
    );
    expect(() => createFrameDecoder('lsp', () => {}, { maxMessageBytes: -1 })).toThrow(
      expect.objectContaining({ field: 'maxMessageBytes' }),
    );
    expect(() => createFrameDecoder('jsonrpc-lines', () => {}, { maxMessageBytes: 0 })).toThrow(
      expect.objectContaining({ field: 'maxMessageBytes' }),
    );
  });
});
