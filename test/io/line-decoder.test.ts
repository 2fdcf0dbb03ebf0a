import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_LINE_BYTES,
  LineDecoder,
  type LineDecoderOptions,
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
