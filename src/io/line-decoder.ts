/**
 * Newline framing of a subprocess's stdout: `LineFramer` cuts the byte stream into lines and hands
 * each one over as raw bytes (what the IO worker copies into a ring); `LineDecoder` is the same
 * framer with each line decoded as UTF-8 (one framing implementation, two views of it).
 *
 * Guarantees: lines are cut on '\n' (one trailing '\r' is stripped); a line is handed over only
 * once complete, so a multi-byte character split across chunks decodes correctly ('\n' never
 * occurs inside a UTF-8 sequence). Empty lines are skipped. A line longer than `maxLineBytes` is
 * never buffered beyond that limit: its bytes are dropped up to the next '\n', it is reported
 * through `onOversized(bytesSeen)`, and framing carries on with the next line. `end()` reports a
 * trailing unterminated line through `onTruncated` and never emits it as a message.
 *
 * Zero copies where possible: a line that lies within one chunk is handed to `onLine` as a
 * subarray of that chunk; only a line spread over several chunks is copied (its pieces into one
 * internal buffer, once). So **the Buffer given to `onLine` is valid only during that call**: copy
 * it (or decode it) to keep it. The caller may reuse a chunk as soon as `feed()` returns: the
 * framer keeps copies, never references. Each framer retains at most two internal buffers of at
 * most `RETAINED_BUFFER_BYTES` each between lines (a longer line's buffer is released after it).
 */
import { InvalidArgumentError } from '../errors.ts';

export const DEFAULT_MAX_LINE_BYTES = 4 * 1024 * 1024;

/**
 * What a framer reports about bytes it could not hand over as a message (every framing: lines
 * here, Content-Length in content-length-decoder.ts; src/io/framing.ts picks one):
 * - `invalid`: bytes that are not a frame (a bad `Content-Length` header, garbage), skipped;
 * - `oversized`: a message over its limit, skipped without being buffered;
 * - `truncated`: the stream ended inside a frame (reported by `end()`).
 * The same three values as the coordinator's `protocol` event.
 */
export type FrameProblem = 'invalid' | 'oversized' | 'truncated';

/** Internal line buffers up to this capacity are kept for reuse; bigger ones are released. */
export const RETAINED_BUFFER_BYTES = 256 * 1024;

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const EMPTY = Buffer.alloc(0);
const MIN_BUFFER_BYTES = 1024;

export interface LineDecoderOptions {
  /** Longest accepted line in bytes, excluding the '\n' (a '\r' before it counts). Default 4 MiB. */
  maxLineBytes?: number;
  /** A line longer than `maxLineBytes` ended (or the stream ended inside it); it was dropped. */
  onOversized?: (bytesSeen: number) => void;
  /** `end()` found an unterminated trailing line of `bytes` bytes; it was dropped. */
  onTruncated?: (bytes: number) => void;
}

export interface LineDecoderStats {
  /** Lines handed to `onLine`. */
  lines: number;
  /** Lines dropped for exceeding `maxLineBytes`. */
  oversized: number;
  /** Unterminated trailing lines dropped by `end()`. */
  truncated: number;
  /** Every byte fed so far. */
  bytes: number;
  /** Bytes held right now for an incomplete line. */
  bufferedBytes: number;
  /** The most bytes ever held at once for an incomplete line: never above `maxLineBytes`. */
  peakBufferedBytes: number;
}

/** What one `feed()` found, collected before any callback runs: a line, or an oversized size. */
type Found = Buffer | number;

/** `chunk` as a Buffer view (no copy), or a typed error naming `chunk`. */
export function chunkBytes(chunk: Uint8Array): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (!(chunk instanceof Uint8Array)) {
    throw new InvalidArgumentError('chunk', 'expected a Buffer or Uint8Array');
  }
  return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

/** Splits a byte stream into lines handed over as Buffers (valid only during the callback). */
export class LineFramer {
  readonly maxLineBytes: number;
  readonly #onLine: (line: Buffer) => void;
  readonly #onOversized: ((bytesSeen: number) => void) | undefined;
  readonly #onTruncated: ((bytes: number) => void) | undefined;

  /** The incomplete line so far: `#buffer[0, #length)`, a copy (callers may reuse chunks). */
  #buffer: Buffer = EMPTY;
  #length = 0;
  /** A second buffer: the one a joined line was handed over in, reused once that call is over. */
  #spare: Buffer = EMPTY;
  /** Bytes of an oversized line dropped so far; -1 when not inside one. */
  #discarded = -1;
  #stats: LineDecoderStats = {
    lines: 0,
    oversized: 0,
    truncated: 0,
    bytes: 0,
    bufferedBytes: 0,
    peakBufferedBytes: 0,
  };

  constructor(onLine: (line: Buffer) => void, options: LineDecoderOptions = {}) {
    if (typeof onLine !== 'function') {
      throw new InvalidArgumentError('onLine', 'expected a function');
    }
    const max = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    if (!Number.isSafeInteger(max) || max < 1) {
      throw new InvalidArgumentError('maxLineBytes', `expected an integer ≥ 1, got ${String(max)}`);
    }
    this.maxLineBytes = max;
    this.#onLine = onLine;
    this.#onOversized = options.onOversized;
    this.#onTruncated = options.onTruncated;
  }

  get stats(): Readonly<LineDecoderStats> {
    return { ...this.#stats, bufferedBytes: this.#length };
  }

  /**
   * Consumes one chunk. The framer's state is fully updated before any callback runs, so a
   * throwing callback loses nothing: the remaining lines of the chunk are still delivered and the
   * first error is rethrown afterwards.
   */
  feed(chunk: Uint8Array): void {
    const bytes = chunkBytes(chunk);
    const size = bytes.length;
    this.#stats.bytes += size;
    const first = bytes.indexOf(NEWLINE);
    if (first === -1) {
      if (size > 0) this.#keep(bytes, 0);
      return;
    }
    const found: Found[] = [];
    // The first line continues whatever an earlier chunk left incomplete.
    this.#endPendingLine(bytes, first, found);
    let start = first + 1;
    const max = this.maxLineBytes;
    let lines = 0;
    for (;;) {
      const nl = bytes.indexOf(NEWLINE, start);
      if (nl === -1) break;
      const length = nl - start;
      if (length > max) {
        this.#stats.oversized++;
        found.push(length);
      } else {
        const end = length > 0 && bytes[nl - 1] === CARRIAGE_RETURN ? nl - 1 : nl;
        if (end > start) {
          lines++;
          found.push(bytes.subarray(start, end));
        }
      }
      start = nl + 1;
    }
    this.#stats.lines += lines;
    if (start < size) this.#keep(bytes, start);
    this.#deliver(found);
  }

  /** The stream ended: drops and reports any unterminated trailing line, then resets. */
  end(): void {
    if (this.#discarded >= 0) {
      const bytesSeen = this.#discarded;
      this.#discarded = -1;
      this.#stats.oversized++;
      this.#onOversized?.(bytesSeen);
    } else if (this.#length > 0) {
      const bytes = this.#length;
      this.#length = 0;
      this.#releaseLarge();
      this.#stats.truncated++;
      this.#onTruncated?.(bytes);
    }
  }

  /** `bytes[0, nl)` ends the line that was pending (possibly none) before this chunk. */
  #endPendingLine(bytes: Buffer, nl: number, found: Found[]): void {
    if (this.#discarded >= 0) {
      this.#stats.oversized++;
      found.push(this.#discarded + nl);
      this.#discarded = -1;
      return;
    }
    const length = this.#length + nl;
    if (length > this.maxLineBytes) {
      this.#stats.oversized++;
      found.push(length);
      this.#length = 0;
      this.#releaseLarge();
      return;
    }
    let line: Buffer;
    if (this.#length === 0) {
      line = bytes.subarray(0, nl);
    } else {
      this.#reserve(length);
      bytes.copy(this.#buffer, this.#length, 0, nl);
      line = this.#buffer.subarray(0, length);
      // The joined line lives in #buffer until it has been delivered: later pieces of this chunk
      // go to the other buffer. A buffer grown past the retained size is let go after delivery.
      const lent = this.#buffer;
      this.#buffer = this.#spare;
      this.#spare = lent.length <= RETAINED_BUFFER_BYTES ? lent : EMPTY;
      this.#length = 0;
    }
    let end = line.length;
    if (end > 0 && line[end - 1] === CARRIAGE_RETURN) end--;
    if (end === 0) return;
    this.#stats.lines++;
    found.push(end === line.length ? line : line.subarray(0, end));
  }

  /** Holds `bytes[from..]`, the start of an incomplete line, or drops it once past the limit. */
  #keep(bytes: Buffer, from: number): void {
    const piece = bytes.length - from;
    if (this.#discarded >= 0) {
      this.#discarded += piece;
      return;
    }
    const length = this.#length + piece;
    if (length > this.maxLineBytes) {
      this.#discarded = length;
      this.#length = 0;
      this.#releaseLarge();
      return;
    }
    this.#reserve(length);
    bytes.copy(this.#buffer, this.#length, from);
    this.#length = length;
    if (length > this.#stats.peakBufferedBytes) this.#stats.peakBufferedBytes = length;
  }

  /** Grows #buffer (keeping its first #length bytes) to hold `needed` bytes. */
  #reserve(needed: number): void {
    const capacity = this.#buffer.length;
    if (needed <= capacity) return;
    const grown = Math.min(
      Math.max(needed, capacity * 2, MIN_BUFFER_BYTES),
      Math.max(needed, this.maxLineBytes),
    );
    const next = Buffer.allocUnsafe(grown);
    if (this.#length > 0) this.#buffer.copy(next, 0, 0, this.#length);
    this.#buffer = next;
  }

  #releaseLarge(): void {
    if (this.#buffer.length > RETAINED_BUFFER_BYTES) this.#buffer = EMPTY;
  }

  #deliver(found: Found[]): void {
    let failure: { error: unknown } | undefined;
    for (const item of found) {
      try {
        if (typeof item === 'number') this.#onOversized?.(item);
        else this.#onLine(item);
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure) throw failure.error;
  }
}

/** The same framing as `LineFramer`, each line decoded as UTF-8. */
export class LineDecoder {
  readonly #framer: LineFramer;

  constructor(onLine: (line: string) => void, options: LineDecoderOptions = {}) {
    if (typeof onLine !== 'function') {
      throw new InvalidArgumentError('onLine', 'expected a function');
    }
    this.#framer = new LineFramer((line) => onLine(line.toString('utf8')), options);
  }

  get maxLineBytes(): number {
    return this.#framer.maxLineBytes;
  }

  get stats(): Readonly<LineDecoderStats> {
    return this.#framer.stats;
  }

  /** See `LineFramer.feed`: state first, then callbacks; a throwing callback loses nothing. */
  feed(chunk: Uint8Array): void {
    this.#framer.feed(chunk);
  }

  /** The stream ended: drops and reports any unterminated trailing line, then resets. */
  end(): void {
    this.#framer.end();
  }
}
