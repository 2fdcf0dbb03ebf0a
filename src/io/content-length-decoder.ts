/**
 * LSP / DAP base-protocol framing of a subprocess's stdout: header lines `Name: value\r\n` (names
 * case-insensitive; `Content-Length: N` required, every other header — `Content-Type` etc. —
 * tolerated and ignored), a blank line (the block ends at the first `\r\n\r\n`), then exactly N
 * bytes of body. `ContentLengthDecoder` hands each body over as raw bytes (content-length-header.ts
 * parses a header block and writes the header for a body).
 *
 * Guarantees:
 * - Zero copies where possible: a body that lies within one chunk is handed to `onMessage` as a
 *   subarray of that chunk; a body spread over chunks is copied once, into one of two body
 *   buffers reused in turn (each kept only up to `RETAINED_BUFFER_BYTES`; a bigger one is let go).
 *   **The Buffer given to `onMessage` is valid only during that call**: copy it to keep it. The
 *   caller may reuse a chunk as soon as `feed()` returns (the decoder keeps copies only).
 * - Bounded memory: at most `maxHeaderBytes` (+ 3) of an incomplete header block and at most
 *   `maxMessageBytes` of an incomplete body are held. A body over `maxMessageBytes` is reported
 *   (`oversized`) as soon as its header is read and skipped by counting its bytes, never buffered.
 * - Bad frames are reported (`invalid`) and skipped without losing sync for the valid frames after
 *   them. The resync rule:
 *   1. A header block that is structurally broken — a line that is not `token: value`, a bare
 *      '\r' or '\n', an empty block, a block longer than `maxHeaderBytes` without its
 *      `\r\n\r\n`, or no Content-Length but a name ending in it (`xyzContent-Length`) — is
 *      garbage in front of a frame: the decoder drops its first byte and scans forward from there
 *      for the next `Content-Length:` (case-insensitive, anywhere, also inside the dropped block),
 *      where a new header block begins. Garbage written before a header (a stray log line) thus
 *      costs only itself.
 *   2. A well-formed block whose Content-Length is missing, not a non-negative decimal integer
 *      (negative, non-numeric, empty, over 15 digits) or given twice with different values is a
 *      bad frame: the whole block (with its `\r\n\r\n`) is dropped, then the decoder scans forward
 *      for the next `Content-Length:`, dropping the bad frame's body (whose length is unknown).
 *   Each rejected block is one `invalid` report; the bytes skipped while scanning are part of it.
 *   A body that happens to contain `Content-Length:` can be mistaken for a header only while the
 *   decoder is scanning after a bad frame; a body read by its count never is.
 * - `end()` reports a partial frame (header block, body, or oversized body being skipped) as
 *   `truncated`, never emits it, and resets the decoder for a new stream.
 * - The decoder's state is fully updated before any callback runs, so a throwing callback loses
 *   nothing: the remaining messages of the chunk are still delivered and the first error is
 *   rethrown afterwards.
 * - `Content-Length: 0` is a well-formed frame: its empty body is handed over (the JSON layer
 *   reports it); framing does not judge bodies.
 */
import { InvalidArgumentError } from '../errors.ts';
import {
  CR,
  FOLD,
  LF,
  MAX_DIGITS,
  parseHeaderBlock,
  type Rejection,
  TOKEN,
} from './content-length-header.ts';
import {
  chunkBytes,
  DEFAULT_MAX_LINE_BYTES,
  type FrameProblem,
  RETAINED_BUFFER_BYTES,
} from './line-decoder.ts';

export const DEFAULT_MAX_MESSAGE_BYTES = DEFAULT_MAX_LINE_BYTES;
export const DEFAULT_MAX_HEADER_BYTES = 8 * 1024;

export interface ContentLengthDecoderOptions {
  /** Largest accepted body in bytes. Default 4 MiB. */
  maxMessageBytes?: number;
  /** Longest accepted header block in bytes, without its final `\r\n\r\n`. Default 8 KiB. */
  maxHeaderBytes?: number;
  /** A frame was dropped (`invalid`, `oversized`) or cut short by `end()` (`truncated`). */
  onProblem?: (problem: FrameProblem, detail: string) => void;
}

export interface ContentLengthDecoderStats {
  /** Bodies handed to `onMessage`. */
  messages: number;
  /** Header blocks rejected (each one `invalid` report). */
  invalid: number;
  /** Bodies skipped for exceeding `maxMessageBytes`. */
  oversized: number;
  /** Partial frames dropped by `end()`. */
  truncated: number;
  /** Every byte fed so far. */
  bytes: number;
  /** Bytes held right now for an incomplete header block or body. */
  bufferedBytes: number;
  /** The most bytes ever held at once for an incomplete header block or body. */
  peakBufferedBytes: number;
}

const HEADER = 0;
const BODY = 1;
const SKIP = 2;
const RESYNC = 3;

const TERMINATOR = Buffer.from('\r\n\r\n', 'latin1');
/** The header as servers write it, read without the general parser. */
const CANONICAL = Buffer.from('Content-Length: ', 'latin1');
const EMPTY = Buffer.alloc(0);

class Problem {
  constructor(
    readonly problem: FrameProblem,
    readonly detail: string,
  ) {}
}

/** What one `feed()` found, collected before any callback runs. */
type Found = Buffer | Problem;

/** Frames `Content-Length:` messages out of a byte stream (bodies valid only during the callback). */
export class ContentLengthDecoder {
  readonly maxMessageBytes: number;
  readonly maxHeaderBytes: number;
  readonly #onMessage: (body: Buffer) => void;
  readonly #onProblem: ((problem: FrameProblem, detail: string) => void) | undefined;

  #state = HEADER;
  /** The incomplete header block so far (`#head[0, #headLength)`), allocated on first need. */
  #head: Buffer = EMPTY;
  #headLength = 0;
  /** The incomplete body so far (`#body[0, #bodyLength)` of `#bodyNeed`). */
  #body: Buffer = EMPTY;
  /**
   * A second body buffer: the one a completed body was handed over in, reused once that call is
   * over. Only the first message completed in a chunk can be one that was copied (it began in an
   * earlier chunk), so two buffers never overlap a body still to be delivered.
   */
  #spareBody: Buffer = EMPTY;
  #bodyLength = 0;
  #bodyNeed = 0;
  /** Bytes of an oversized body still to skip, of `#skipTotal`. */
  #skipLeft = 0;
  #skipTotal = 0;
  /** While resyncing: how many bytes of `content-length:` the last bytes seen matched, and they. */
  #match = 0;
  readonly #matched = Buffer.alloc(TOKEN.length);
  #stats: ContentLengthDecoderStats = {
    messages: 0,
    invalid: 0,
    oversized: 0,
    truncated: 0,
    bytes: 0,
    bufferedBytes: 0,
    peakBufferedBytes: 0,
  };

  constructor(onMessage: (body: Buffer) => void, options: ContentLengthDecoderOptions = {}) {
    if (typeof onMessage !== 'function') {
      throw new InvalidArgumentError('onMessage', 'expected a function');
    }
    const max = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    if (!Number.isSafeInteger(max) || max < 1) {
      throw new InvalidArgumentError(
        'maxMessageBytes',
        `expected an integer ≥ 1, got ${String(max)}`,
      );
    }
    const header = options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
    if (!Number.isSafeInteger(header) || header < 32) {
      throw new InvalidArgumentError(
        'maxHeaderBytes',
        `expected an integer ≥ 32, got ${String(header)}`,
      );
    }
    if (options.onProblem !== undefined && typeof options.onProblem !== 'function') {
      throw new InvalidArgumentError('onProblem', 'expected a function');
    }
    this.maxMessageBytes = max;
    this.maxHeaderBytes = header;
    this.#onMessage = onMessage;
    this.#onProblem = options.onProblem;
  }

  get stats(): Readonly<ContentLengthDecoderStats> {
    return { ...this.#stats, bufferedBytes: this.#headLength + this.#bodyLength };
  }

  /** Consumes one chunk: state first, then callbacks (a throwing callback loses nothing). */
  feed(chunk: Uint8Array): void {
    const bytes = chunkBytes(chunk);
    this.#stats.bytes += bytes.length;
    const found: Found[] = [];
    this.#process(bytes, found);
    if (found.length > 0) this.#deliver(found);
  }

  /** The stream ended: reports a partial frame as `truncated`, then resets. */
  end(): void {
    let detail: string | undefined;
    if (this.#state === HEADER && this.#headLength > 0) {
      detail = `the stream ended inside a header block (${this.#headLength} bytes)`;
    } else if (this.#state === BODY) {
      detail = `the stream ended ${this.#bodyLength} bytes into a ${this.#bodyNeed}-byte body`;
    } else if (this.#state === SKIP) {
      const seen = this.#skipTotal - this.#skipLeft;
      detail = `the stream ended ${seen} bytes into an oversized ${this.#skipTotal}-byte body`;
    }
    this.#state = HEADER;
    this.#headLength = 0;
    if (this.#body.length > RETAINED_BUFFER_BYTES) this.#body = EMPTY;
    this.#bodyLength = 0;
    this.#bodyNeed = 0;
    this.#skipLeft = 0;
    this.#match = 0;
    if (this.#head.length > 0) this.#head = EMPTY;
    if (detail !== undefined) {
      this.#stats.truncated++;
      this.#onProblem?.('truncated', detail);
    }
  }

  #process(bytes: Buffer, found: Found[]): void {
    const size = bytes.length;
    let pos = 0;
    while (pos < size) {
      switch (this.#state) {
        case HEADER:
          pos = this.#header(bytes, pos, found);
          break;
        case BODY:
          pos = this.#readBody(bytes, pos, found);
          break;
        case SKIP: {
          const n = Math.min(this.#skipLeft, size - pos);
          this.#skipLeft -= n;
          pos += n;
          if (this.#skipLeft === 0) this.#state = HEADER;
          break;
        }
        default:
          pos = this.#resync(bytes, pos);
      }
    }
  }

  /** Reads header bytes from `pos`; returns where to go on. */
  #header(bytes: Buffer, pos: number, found: Found[]): number {
    const size = bytes.length;
    const limit = this.maxHeaderBytes;
    if (this.#headLength === 0) {
      // Fastest path: exactly `Content-Length: N\r\n\r\n`, what servers write, in this chunk.
      if (bytes[pos] === CANONICAL[0] && size - pos >= CANONICAL.length + 5) {
        let k = 1;
        while (k < CANONICAL.length && bytes[pos + k] === CANONICAL[k]) k++;
        if (k === CANONICAL.length) {
          const digits = pos + k;
          let i = digits;
          let value = 0;
          while (i < size && i - digits < MAX_DIGITS) {
            const digit = bytes[i]! - 0x30;
            if (digit < 0 || digit > 9) break;
            value = value * 10 + digit;
            i++;
          }
          if (
            i > digits &&
            i + 4 <= size &&
            bytes[i] === CR &&
            bytes[i + 1] === LF &&
            bytes[i + 2] === CR &&
            bytes[i + 3] === LF
          ) {
            this.#startBody(value, found);
            return i + 4;
          }
        }
      }
      // Fast path: the whole block is in this chunk; parse it in place.
      const t = bytes.indexOf(TERMINATOR, pos);
      if (t !== -1 && t - pos <= limit) {
        const rejection = this.#endHeader(bytes, pos, t, found);
        if (rejection === undefined) return t + 4;
        this.#startResync();
        return rejection.garbage ? pos + 1 : t + 4;
      }
      if (t === -1 && size - pos < limit + 4) {
        this.#hold(bytes, pos, size);
        return size;
      }
      this.#reject({ garbage: true, reason: `a header block longer than ${limit} bytes` }, found);
      this.#startResync();
      return pos + 1;
    }
    // Slow path: the block began in an earlier chunk. Add at most what can still be a header.
    const held = this.#headLength;
    const take = Math.min(limit + 4 - held, size - pos);
    this.#hold(bytes, pos, pos + take);
    const filled = this.#headLength;
    const head = this.#head;
    const t = head.subarray(0, filled).indexOf(TERMINATOR, Math.max(0, held - 3));
    if (t !== -1) {
      // t ≤ limit: the held bytes never exceed limit + 4.
      this.#headLength = 0;
      const rejection = this.#endHeader(head, 0, t, found);
      if (rejection === undefined) return pos + (t + 4 - held);
      this.#startResync();
      if (!rejection.garbage) return pos + (t + 4 - held);
    } else if (filled < limit + 4) {
      return pos + take;
    } else {
      this.#headLength = 0;
      this.#reject({ garbage: true, reason: `a header block longer than ${limit} bytes` }, found);
      this.#startResync();
    }
    // Rule 1 on a block held across chunks: scan its bytes again from its second byte (a copy:
    // #head is reused), then go on with this chunk after the part that was taken into it.
    const again = Buffer.from(head.subarray(1, filled));
    this.#process(again, found);
    return pos + take;
  }

  /** Parses the header block `buf[start, end)`; sets up the body or reports and rejects it. */
  #endHeader(buf: Buffer, start: number, end: number, found: Found[]): Rejection | undefined {
    const parsed = parseHeaderBlock(buf, start, end);
    if (typeof parsed !== 'number') {
      this.#reject(parsed, found);
      return parsed;
    }
    this.#startBody(parsed, found);
    return undefined;
  }

  /** A header announced a body of `length` bytes. */
  #startBody(length: number, found: Found[]): void {
    const parsed = length;
    if (parsed > this.maxMessageBytes) {
      this.#stats.oversized++;
      found.push(
        new Problem(
          'oversized',
          `a ${parsed}-byte message was skipped (maxMessageBytes ${this.maxMessageBytes})`,
        ),
      );
      this.#state = SKIP;
      this.#skipLeft = parsed;
      this.#skipTotal = parsed;
      return;
    }
    if (parsed === 0) {
      this.#stats.messages++;
      found.push(EMPTY);
      return;
    }
    this.#state = BODY;
    this.#bodyNeed = parsed;
    this.#bodyLength = 0;
  }

  #reject(rejection: Rejection, found: Found[]): void {
    this.#stats.invalid++;
    const then = rejection.garbage
      ? 'skipping to the next "Content-Length:"'
      : 'skipping the header and its body, up to the next "Content-Length:"';
    found.push(new Problem('invalid', `${rejection.reason}; ${then}`));
  }

  #startResync(): void {
    this.#state = RESYNC;
    this.#match = 0;
  }

  /** Appends `bytes[from, to)` to the held header block. */
  #hold(bytes: Buffer, from: number, to: number): void {
    if (this.#head.length === 0) this.#head = Buffer.allocUnsafe(this.maxHeaderBytes + 4);
    bytes.copy(this.#head, this.#headLength, from, to);
    this.#headLength += to - from;
    if (this.#headLength > this.#stats.peakBufferedBytes) {
      this.#stats.peakBufferedBytes = this.#headLength;
    }
  }

  #readBody(bytes: Buffer, pos: number, found: Found[]): number {
    const need = this.#bodyNeed;
    const have = this.#bodyLength;
    const available = bytes.length - pos;
    if (have === 0 && available >= need) {
      this.#state = HEADER;
      this.#stats.messages++;
      found.push(bytes.subarray(pos, pos + need));
      return pos + need;
    }
    if (have === 0 && this.#body.length < need) this.#body = Buffer.allocUnsafe(need);
    const take = Math.min(need - have, available);
    bytes.copy(this.#body, have, pos, pos + take);
    if (have + take === need) {
      this.#state = HEADER;
      this.#stats.messages++;
      const lent = this.#body;
      found.push(lent.length === need ? lent : lent.subarray(0, need));
      this.#body = this.#spareBody;
      this.#spareBody = lent.length <= RETAINED_BUFFER_BYTES ? lent : EMPTY;
      this.#bodyLength = 0;
    } else {
      this.#bodyLength = have + take;
      if (this.#bodyLength > this.#stats.peakBufferedBytes) {
        this.#stats.peakBufferedBytes = this.#bodyLength;
      }
    }
    return pos + take;
  }

  /** Scans for `content-length:` from `pos`; a match starts a header block there. */
  #resync(bytes: Buffer, pos: number): number {
    const size = bytes.length;
    const carried = this.#match;
    let m = carried;
    for (let i = pos; i < size; i++) {
      const b = bytes[i]!;
      if ((b | FOLD[m]!) === TOKEN[m]) {
        if (++m < TOKEN.length) continue;
        this.#match = 0;
        this.#state = HEADER;
        const start = i + 1 - TOKEN.length;
        if (start >= pos) return start;
        // The match began in an earlier chunk: the block starts with the bytes matched there.
        this.#hold(this.#matched, 0, carried);
        return pos;
      }
      // `content-length:` has no proper prefix that is also a suffix: restart at this byte.
      m = (b | FOLD[0]!) === TOKEN[0] ? 1 : 0;
    }
    // Keep the bytes a match in progress has seen: the block may begin in this chunk's tail. If
    // m exceeds what was scanned here, no restart happened: #matched[0, carried) stays as it is.
    if (m > 0) {
      bytes.copy(this.#matched, Math.max(0, m - (size - pos)), Math.max(pos, size - m), size);
    }
    this.#match = m;
    return size;
  }

  #deliver(found: Found[]): void {
    let failure: { error: unknown } | undefined;
    for (const item of found) {
      try {
        if (item instanceof Problem) this.#onProblem?.(item.problem, item.detail);
        else this.#onMessage(item);
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure) throw failure.error;
  }
}
