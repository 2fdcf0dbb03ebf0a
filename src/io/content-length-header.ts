/**
 * The `Content-Length` header of the LSP / DAP base protocol, both ways: `parseHeaderBlock` reads
 * a complete header block for ContentLengthDecoder (the resync rules it feeds are described
 * there), and the encoder functions write the header for a body (`Content-Length: N\r\n\r\n`,
 * ASCII; the only header atomvisor sends).
 */
import { InvalidArgumentError } from '../errors.ts';

export const CR = 0x0d;
export const LF = 0x0a;
const COLON = 0x3a;
const SPACE = 0x20;
const TAB = 0x09;
/** Longest Content-Length value accepted: 15 digits stay below Number.MAX_SAFE_INTEGER. */
export const MAX_DIGITS = 15;

/** `content-length:` in lower case, and per byte the bit that folds an ASCII letter's case. */
export const TOKEN = Buffer.from('content-length:', 'latin1');
export const FOLD = Uint8Array.from(TOKEN, (b) => (b >= 0x61 && b <= 0x7a ? 0x20 : 0));
/** The header name, without its ':'. */
const NAME_LENGTH = TOKEN.length - 1;

/** RFC 9110 tchar: the bytes a header name may contain. */
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
  TCHAR[c.charCodeAt(0)] = 1;
}

/** Why a header block was refused; `garbage` selects resync rule 1, else rule 2. */
export interface Rejection {
  garbage: boolean;
  reason: string;
}

/**
 * The Content-Length of the header block `buf[start, end)` (its lines separated by `\r\n`, the
 * final `\r\n\r\n` excluded), or why the block is refused.
 */
export function parseHeaderBlock(buf: Buffer, start: number, end: number): number | Rejection {
  if (start === end) return { garbage: true, reason: 'an empty header block' };
  let length = -1;
  /** Where the first name ending in `Content-Length` with more before it began (`xyzContent-Length`). */
  let glued: number | undefined;
  let i = start;
  for (;;) {
    const lineStart = i;
    while (i < end && TCHAR[buf[i]!] === 1) i++;
    const nameEnd = i;
    if (nameEnd === lineStart || i >= end || buf[i] !== COLON) {
      return { garbage: true, reason: `a malformed header line ${quote(buf, lineStart, end)}` };
    }
    i++;
    while (i < end && (buf[i] === SPACE || buf[i] === TAB)) i++;
    const valueStart = i;
    while (i < end && buf[i] !== CR && buf[i] !== LF) i++;
    let valueEnd = i;
    while (valueEnd > valueStart && (buf[valueEnd - 1] === SPACE || buf[valueEnd - 1] === TAB)) {
      valueEnd--;
    }
    if (i < end && (buf[i] !== CR || i + 1 >= end || buf[i + 1] !== LF)) {
      return { garbage: true, reason: `a malformed header line ${quote(buf, lineStart, end)}` };
    }
    const nameLength = nameEnd - lineStart;
    if (nameLength > NAME_LENGTH && isContentLength(buf, nameEnd - NAME_LENGTH)) {
      glued ??= lineStart;
    } else if (nameLength === NAME_LENGTH && isContentLength(buf, lineStart)) {
      const value = parseDecimal(buf, valueStart, valueEnd);
      if (value < 0) {
        return {
          garbage: false,
          reason: `Content-Length ${quote(buf, valueStart, valueEnd)} is not a non-negative integer`,
        };
      }
      if (length >= 0 && length !== value) {
        return {
          garbage: false,
          reason: `conflicting Content-Length headers (${length} and ${value})`,
        };
      }
      length = value;
    }
    if (i >= end) break;
    i += 2;
  }
  if (length < 0 && glued !== undefined) {
    return { garbage: true, reason: `bytes glued before Content-Length ${quote(buf, glued, end)}` };
  }
  if (length < 0) return { garbage: false, reason: 'a header block without Content-Length' };
  return length;
}

/** Whether `buf[at, at + 14)` is `content-length` in any case. */
function isContentLength(buf: Buffer, at: number): boolean {
  for (let k = 0; k < NAME_LENGTH; k++) {
    if ((buf[at + k]! | FOLD[k]!) !== TOKEN[k]) return false;
  }
  return true;
}

/** The decimal integer `buf[start, end)`, or -1 if it is not 1–15 ASCII digits. */
function parseDecimal(buf: Buffer, start: number, end: number): number {
  if (end === start || end - start > MAX_DIGITS) return -1;
  let value = 0;
  for (let i = start; i < end; i++) {
    const digit = buf[i]! - 0x30;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

/** A short printable quote of `buf[start..]` up to its line end (for problem details). */
function quote(buf: Buffer, start: number, end: number): string {
  let stop = start;
  const limit = Math.min(end, start + 40);
  while (stop < limit && buf[stop] !== CR && buf[stop] !== LF) stop++;
  const text = JSON.stringify(buf.toString('latin1', start, stop));
  return stop < end && stop === limit ? `${text}…` : text;
}

/** The header for a body of `byteLength` bytes: `Content-Length: N\r\n\r\n` (ASCII). */
export function encodeContentLengthHeader(byteLength: number): Buffer {
  checkLength(byteLength);
  return Buffer.from(`Content-Length: ${byteLength}\r\n\r\n`, 'latin1');
}

/** Bytes `encodeContentLengthHeader(byteLength)` takes. */
export function contentLengthHeaderSize(byteLength: number): number {
  checkLength(byteLength);
  return 20 + String(byteLength).length;
}

/**
 * Writes the header for a body of `byteLength` bytes into `target` at `offset` (no allocation
 * beyond the digits; for batching frames into one buffer) and returns the bytes written.
 */
export function writeContentLengthHeader(
  target: Uint8Array,
  offset: number,
  byteLength: number,
): number {
  const size = contentLengthHeaderSize(byteLength);
  if (!Number.isSafeInteger(offset) || offset < 0 || offset + size > target.length) {
    throw new InvalidArgumentError(
      'offset',
      `a ${size}-byte header does not fit at ${String(offset)} in ${target.length} bytes`,
    );
  }
  const text = `Content-Length: ${byteLength}\r\n\r\n`;
  for (let k = 0; k < size; k++) target[offset + k] = text.charCodeAt(k);
  return size;
}

function checkLength(byteLength: number): void {
  if (!Number.isSafeInteger(byteLength) || byteLength < 0) {
    throw new InvalidArgumentError(
      'byteLength',
      `expected an integer ≥ 0, got ${String(byteLength)}`,
    );
  }
}
