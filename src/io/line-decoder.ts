/**
 * Splits a subprocess's stdout byte stream into newline-delimited lines.
 *
 * Guarantees: lines are cut on '\n' (one trailing '\r' is stripped) and decoded as UTF-8 only once
 * complete, so a multi-byte character split across chunks decodes correctly ('\n' never occurs
 * inside a UTF-8 sequence). Empty lines are skipped. A line longer than `maxLineBytes` is never
 * buffered beyond that limit: its bytes are dropped up to the next '\n', it is reported through
 * `onOversized(bytesSeen)`, and decoding carries on with the next line. `end()` reports a trailing
 * unterminated line through `onTruncated` and never emits it as a message.
 */
import { InvalidArgumentError } from '../errors.ts';

export const DEFAULT_MAX_LINE_BYTES = 4 * 1024 * 1024;

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

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

type Event = { line: string } | { oversized: number };

export class LineDecoder {
  readonly maxLineBytes: number;
  readonly #onLine: (line: string) => void;
  readonly #onOversized: ((bytesSeen: number) => void) | undefined;
  readonly #onTruncated: ((bytes: number) => void) | undefined;

  /** Copies of the pieces of the current incomplete line (copied: callers may reuse chunks). */
  #pending: Buffer[] = [];
  #pendingBytes = 0;
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

  constructor(onLine: (line: string) => void, options: LineDecoderOptions = {}) {
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
    return { ...this.#stats, bufferedBytes: this.#pendingBytes };
  }

  /**
   * Consumes one chunk. The decoder's state is fully updated before any callback runs, so a
   * throwing callback loses nothing: the remaining lines of the chunk are still delivered and the
   * first error is rethrown afterwards.
   */
  feed(chunk: Buffer | Uint8Array): void {
    if (!(chunk instanceof Uint8Array)) {
      throw new InvalidArgumentError('chunk', 'expected a Buffer or Uint8Array');
    }
    const bytes = Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.#stats.bytes += bytes.length;
    const events: Event[] = [];
    let start = 0;
    for (;;) {
      const nl = bytes.indexOf(NEWLINE, start);
      if (nl === -1) break;
      this.#endLine(bytes.subarray(start, nl), events);
      start = nl + 1;
    }
    if (start < bytes.length) this.#keep(bytes.subarray(start));
    this.#deliver(events);
  }

  /** The stream ended: drops and reports any unterminated trailing line, then resets. */
  end(): void {
    const events: Event[] = [];
    if (this.#discarded >= 0) {
      events.push(this.#oversized(this.#discarded));
    } else if (this.#pendingBytes > 0) {
      this.#stats.truncated++;
      const bytes = this.#pendingBytes;
      this.#clearPending();
      this.#onTruncated?.(bytes);
    }
    this.#discarded = -1;
    this.#deliver(events);
  }

  /** `tail` is the rest of a line whose '\n' was just found. */
  #endLine(tail: Buffer, events: Event[]): void {
    if (this.#discarded >= 0) {
      events.push(this.#oversized(this.#discarded + tail.length));
      this.#discarded = -1;
      return;
    }
    const length = this.#pendingBytes + tail.length;
    if (length > this.maxLineBytes) {
      events.push(this.#oversized(length));
      this.#clearPending();
      return;
    }
    let line: Buffer;
    if (this.#pendingBytes === 0) {
      line = tail;
    } else {
      this.#pending.push(tail);
      line = Buffer.concat(this.#pending, length);
      this.#clearPending();
    }
    let end = line.length;
    if (end > 0 && line[end - 1] === CARRIAGE_RETURN) end--;
    if (end === 0) return;
    this.#stats.lines++;
    events.push({ line: line.toString('utf8', 0, end) });
  }

  /** Holds the start of an incomplete line, or starts dropping it once it passes the limit. */
  #keep(piece: Buffer): void {
    if (this.#discarded >= 0) {
      this.#discarded += piece.length;
      return;
    }
    const length = this.#pendingBytes + piece.length;
    if (length > this.maxLineBytes) {
      this.#discarded = length;
      this.#clearPending();
      return;
    }
    this.#pending.push(Buffer.from(piece));
    this.#pendingBytes = length;
    if (length > this.#stats.peakBufferedBytes) this.#stats.peakBufferedBytes = length;
  }

  #oversized(bytesSeen: number): Event {
    this.#stats.oversized++;
    return { oversized: bytesSeen };
  }

  #clearPending(): void {
    this.#pending = [];
    this.#pendingBytes = 0;
  }

  #deliver(events: Event[]): void {
    let failure: { error: unknown } | undefined;
    for (const event of events) {
      try {
        if ('line' in event) this.#onLine(event.line);
        else this.#onOversized?.(event.oversized);
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure) throw failure.error;
  }
}
