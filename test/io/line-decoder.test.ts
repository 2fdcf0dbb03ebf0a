import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_LINE_BYTES,
  LineDecoder,
  type LineDecoderOptions,
  LineFramer,
  RETAINED_BUFFER_BYTES,
} from '../../src/io/line-decoder.ts';

/** A decoder that records everything it reports. */
function recorder(options: LineDecoderOptions = {}) {
  const lines: string[] = [];
  const oversized: number[] = [];
  const truncated: number[] = [];
  const decoder = new LineDecoder((line) => lines.push(line), {
    ...options,
    onOversized: (bytes) => oversized.push(bytes),
    onTruncated: (bytes) => truncated.push(bytes),
  });
  return { decoder, lines, oversized, truncated };
}

const bytes = (text: string) => Buffer.from(text, 'utf8');

describe('LineDecoder', () => {
  it('splits on newlines, holds an incomplete line until its newline arrives', () => {
    const { decoder, lines } = recorder();
    decoder.feed(bytes('one\ntwo\nthr'));
    expect(lines).toEqual(['one', 'two']);
    decoder.feed(bytes('ee'));
    expect(lines).toEqual(['one', 'two']);
    decoder.feed(bytes('\nfour\n'));
    expect(lines).toEqual(['one', 'two', 'three', 'four']);
    expect(decoder.stats).toMatchObject({ lines: 4, bytes: 19, bufferedBytes: 0 });
  });

  it('decodes multi-byte characters split across chunks, fed one byte at a time', () => {
    const text = 'héllo € 𝄞 日本語 🎉\nsecond ✓\n';
    const { decoder, lines } = recorder();
    for (const byte of bytes(text)) decoder.feed(Uint8Array.of(byte));
    expect(lines).toEqual(['héllo € 𝄞 日本語 🎉', 'second ✓']);
    expect(lines.join('')).not.toContain('\uFFFD');
  });

  it('decodes a character split at every possible position between two chunks', () => {
    const text = 'a🎉b€c\n';
    const all = bytes(text);
    for (let cut = 0; cut <= all.length; cut++) {
      const { decoder, lines } = recorder();
      decoder.feed(all.subarray(0, cut));
      decoder.feed(all.subarray(cut));
      expect(lines, `cut at ${cut}`).toEqual(['a🎉b€c']);
    }
  });

  it('strips exactly one trailing \\r, also when the \\r and \\n arrive in different chunks', () => {
    const { decoder, lines } = recorder();
    decoder.feed(bytes('crlf\r\nsplit\r'));
    decoder.feed(bytes('\ntwo\r\r\nin\rside\n'));
    expect(lines).toEqual(['crlf', 'split', 'two\r', 'in\rside']);
  });

  it('skips empty lines (\\n\\n and a lone \\r\\n)', () => {
    const { decoder, lines } = recorder();
    decoder.feed(bytes('\n\na\n\r\n\nb\n'));
    expect(lines).toEqual(['a', 'b']);
    expect(decoder.stats.lines).toBe(2);
  });

  it('does not keep a reference to the caller chunk (the caller may reuse it)', () => {
    const { decoder, lines } = recorder();
    const chunk = bytes('abc');
    decoder.feed(chunk);
    chunk.fill(0x7a); // 'zzz'
    decoder.feed(bytes('\n'));
    expect(lines).toEqual(['abc']);
  });

  it('accepts a line of exactly maxLineBytes and drops one byte more, then keeps working', () => {
    const { decoder, lines, oversized } = recorder({ maxLineBytes: 8 });
    decoder.feed(bytes('12345678\n123456789\nok\n'));
    expect(lines).toEqual(['12345678', 'ok']);
    expect(oversized).toEqual([9]);
    expect(decoder.stats).toMatchObject({ lines: 2, oversized: 1 });
  });

  it('drops an oversized line spread over many chunks without buffering past the limit', () => {
    const max = 1024;
    const { decoder, lines, oversized } = recorder({ maxLineBytes: max });
    decoder.feed(bytes('before\nstart-of-a-long-line'));
    const piece = Buffer.alloc(300, 0x78);
    let total = 'start-of-a-long-line'.length;
    for (let i = 0; i < 20; i++) {
      decoder.feed(piece);
      total += piece.length;
      expect(decoder.stats.bufferedBytes).toBeLessThanOrEqual(max);
    }
    expect(oversized).toEqual([]); // reported when the line ends, with every byte counted
    decoder.feed(bytes('tail\nafter\n'));
    total += 4;
    expect(oversized).toEqual([total]);
    expect(lines).toEqual(['before', 'after']);
    expect(decoder.stats.peakBufferedBytes).toBeLessThanOrEqual(max);
    expect(decoder.stats.bufferedBytes).toBe(0);
  });

  it('reports a line that crosses the limit only in its final chunk', () => {
    const { decoder, lines, oversized } = recorder({ maxLineBytes: 10 });
    decoder.feed(bytes('123456'));
    decoder.feed(bytes('78901\nnext\n'));
    expect(oversized).toEqual([11]);
    expect(lines).toEqual(['next']);
  });

  it('handles several oversized lines in one chunk', () => {
    const { decoder, lines, oversized } = recorder({ maxLineBytes: 3 });
    decoder.feed(bytes('aaaa\nbb\ncccccc\nddd\n'));
    expect(lines).toEqual(['bb', 'ddd']);
    expect(oversized).toEqual([4, 6]);
  });

  it('end() reports a trailing partial line as truncated and never emits it', () => {
    const { decoder, lines, truncated, oversized } = recorder();
    decoder.feed(bytes('done\npart'));
    decoder.end();
    expect(lines).toEqual(['done']);
    expect(truncated).toEqual([4]);
    expect(oversized).toEqual([]);
    expect(decoder.stats).toMatchObject({ truncated: 1, bufferedBytes: 0 });
    // The decoder starts afresh: nothing of the dropped line leaks into the next one.
    decoder.feed(bytes('new\n'));
    expect(lines).toEqual(['done', 'new']);
  });

  it('end() inside an oversized line reports it as oversized, and end() with nothing left is silent', () => {
    const { decoder, truncated, oversized } = recorder({ maxLineBytes: 4 });
    decoder.feed(bytes('123456789'));
    decoder.end();
    expect(oversized).toEqual([9]);
    expect(truncated).toEqual([]);
    decoder.feed(bytes('ok\n'));
    decoder.end();
    expect(oversized).toEqual([9]);
    expect(truncated).toEqual([]);
  });

  it('a throwing callback loses no lines: the rest are delivered and the first error rethrown', () => {
    const lines: string[] = [];
    const decoder = new LineDecoder((line) => {
      lines.push(line);
      if (line === 'bad') throw new Error('callback failed');
    });
    expect(() => decoder.feed(bytes('a\nbad\nb\npart'))).toThrow('callback failed');
    decoder.feed(bytes('ial\n'));
    expect(lines).toEqual(['a', 'bad', 'b', 'partial']);
  });

  it('defaults to 4 MiB and refuses bad options with typed errors', () => {
    expect(new LineDecoder(() => {}).maxLineBytes).toBe(DEFAULT_MAX_LINE_BYTES);
    expect(DEFAULT_MAX_LINE_BYTES).toBe(4 * 1024 * 1024);
    for (const maxLineBytes of [0, -1, 1.5, Number.NaN]) {
      expect(() => new LineDecoder(() => {}, { maxLineBytes })).toThrow(
        expect.objectContaining({ code: 'ERR_ATOMVISOR_INVALID_ARGUMENT', field: 'maxLineBytes' }),
      );
    }
    expect(() => new LineDecoder(() => {}).feed('text' as unknown as Buffer)).toThrow(
      expect.objectContaining({ field: 'chunk' }),
    );
  });
});

/** A framer that records copies of its lines (the Buffers it hands over are valid only during the call). */
function framed(options: LineDecoderOptions = {}) {
  const lines: Buffer[] = [];
  const oversized: number[] = [];
  const truncated: number[] = [];
  const framer = new LineFramer((line) => lines.push(Buffer.from(line)), {
    ...options,
    onOversized: (bytes) => oversized.push(bytes),
    onTruncated: (bytes) => truncated.push(bytes),
  });
  const text = () => lines.map((line) => line.toString('utf8'));
  return { framer, lines, oversized, truncated, text };
}

describe('LineFramer (bytes)', () => {
  it('hands over each line as bytes without its \n and one trailing \r, skipping empty lines', () => {
    const { framer, lines, text } = framed();
    framer.feed(bytes('one\r\n\n\r\ntwo\r\r\nthr'));
    framer.feed(bytes('ee\n'));
    expect(text()).toEqual(['one', 'two\r', 'three']);
    expect(lines.every((line) => Buffer.isBuffer(line))).toBe(true);
    expect(framer.stats).toMatchObject({ lines: 3, bufferedBytes: 0 });
  });

  it('a line within one chunk is a view of that chunk (no copy); a line across chunks is joined', () => {
    const seen: { sameMemory: boolean; text: string }[] = [];
    const chunk = Buffer.alloc(10); // not from the shared pool: its own ArrayBuffer
    chunk.write('abc\ndef\ngh');
    const framer = new LineFramer((line) =>
      seen.push({ sameMemory: line.buffer === chunk.buffer, text: line.toString() }),
    );
    framer.feed(chunk);
    framer.feed(bytes('i\n'));
    expect(seen).toEqual([
      { sameMemory: true, text: 'abc' },
      { sameMemory: true, text: 'def' },
      { sameMemory: false, text: 'ghi' },
    ]);
  });

  it('keeps joined lines intact while the rest of the same chunk is held, over many turns', () => {
    // Each chunk ends one line and starts the next: the joined line and the held tail must never
    // share memory while the joined line is being handed over (the framer swaps two buffers).
    const { framer, text } = framed();
    const expected: string[] = [];
    let carry = '';
    for (let i = 0; i < 200; i++) {
      const head = `${'x'.repeat(i % 37)}line-${i}-end`;
      const tail = `line-${i + 1}-${'y'.repeat((i * 7) % 53)}`;
      framer.feed(bytes(`${head}\n${tail}`));
      expected.push(`${carry}${head}`);
      carry = tail;
    }
    framer.feed(bytes('\n'));
    expected.push(carry);
    expect(text()).toEqual(expected);
  });

  it('does not keep a reference to the caller chunk, nor need it after feed() returns', () => {
    const { framer, text } = framed();
    const scratch = Buffer.alloc(8);
    for (const piece of ['ab', 'c\nde', 'f\n']) {
      scratch.write(piece);
      framer.feed(scratch.subarray(0, Buffer.byteLength(piece)));
      scratch.fill(0x7a);
    }
    expect(text()).toEqual(['abc', 'def']);
  });

  it('accepts Uint8Array views at an offset, also on a SharedArrayBuffer', () => {
    const { framer, text } = framed();
    const shared = new Uint8Array(new SharedArrayBuffer(32));
    shared.set(bytes('XXhello\nwor'), 0);
    framer.feed(shared.subarray(2, 11));
    framer.feed(new Uint8Array(bytes('ld\n')));
    expect(text()).toEqual(['hello', 'world']);
  });

  it('a line longer than the retained buffer size is joined, then its buffer is let go', () => {
    const { framer, lines, text } = framed();
    const big = Buffer.alloc(RETAINED_BUFFER_BYTES * 2 + 3, 0x61);
    for (let at = 0; at < big.length; at += 10_000) framer.feed(big.subarray(at, at + 10_000));
    framer.feed(bytes('\nsmall\n'));
    expect(lines[0]!.equals(big)).toBe(true);
    expect(text()[1]).toBe('small');
    expect(framer.stats.peakBufferedBytes).toBe(big.length);
  });

  it('oversized and truncated lines are reported by size, like LineDecoder', () => {
    const { framer, text, oversized, truncated } = framed({ maxLineBytes: 4 });
    framer.feed(bytes('12345\nok\n12'));
    framer.feed(bytes('34567'));
    framer.feed(bytes('8\nfine\npart'));
    framer.end();
    expect(text()).toEqual(['ok', 'fine']);
    expect(oversized).toEqual([5, 8]);
    expect(truncated).toEqual([4]);
    expect(framer.stats.peakBufferedBytes).toBeLessThanOrEqual(4);
  });

  it('updates its state for the whole chunk before the first callback runs', () => {
    const statsSeen: number[] = [];
    const framer: LineFramer = new LineFramer(() => statsSeen.push(framer.stats.lines));
    framer.feed(bytes('a\nb\nc\n'));
    expect(statsSeen).toEqual([3, 3, 3]);
  });

  it('a throwing callback loses nothing: the rest are delivered and the first error rethrown', () => {
    const seen: string[] = [];
    const framer = new LineFramer((line) => {
      seen.push(line.toString());
      throw new Error(`failed on ${line.toString()}`);
    });
    expect(() => framer.feed(bytes('x\ny\nz'))).toThrow('failed on x');
    expect(() => framer.feed(bytes('\n'))).toThrow('failed on z');
    expect(seen).toEqual(['x', 'y', 'z']);
  });

  it('refuses bad arguments with typed errors', () => {
    expect(() => new LineFramer('no' as unknown as () => void)).toThrow(
      expect.objectContaining({ field: 'onLine' }),
    );
    expect(() => new LineFramer(() => {}, { maxLineBytes: 0 })).toThrow(
      expect.objectContaining({ field: 'maxLineBytes' }),
    );
    expect(() => new LineFramer(() => {}).feed([1, 2] as unknown as Uint8Array)).toThrow(
      expect.objectContaining({ field: 'chunk' }),
    );
  });
});
