/**
 * The one entry point the IO worker uses to frame a subprocess's stdout, whatever its protocol:
 * `createFrameDecoder(protocol, onMessage, options)` returns a `FrameDecoder` that hands over each
 * message as raw bytes (to be copied into a ring; the main thread parses).
 *
 * - `'jsonrpc-lines'`: newline-delimited (src/io/line-decoder.ts, `LineFramer`).
 * - `'lsp'`: `Content-Length:` headers, as LSP and DAP (src/io/content-length-decoder.ts).
 * - `'none'`: no protocol, but stdout still arrives as lines (each becomes a `stdout` event), so it
 *   gets the same line framing as `'jsonrpc-lines'`.
 *
 * Shared contract: the Buffer given to `onMessage` is valid only during that call (often a
 * subarray of the chunk); the caller may reuse a chunk once `feed()` returns; a throwing callback
 * loses nothing (state first, then callbacks; the first error is rethrown after the chunk);
 * dropped or cut-short frames are reported through `onProblem` and framing carries on; at most
 * `maxMessageBytes` (plus, for `'lsp'`, a header block) is buffered per decoder.
 */
import { InvalidArgumentError } from '../errors.ts';
import { ContentLengthDecoder, type FrameProblem } from './content-length-decoder.ts';
import { DEFAULT_MAX_LINE_BYTES, LineFramer } from './line-decoder.ts';

export type FramingProtocol = 'jsonrpc-lines' | 'lsp' | 'none';

export const FRAMING_PROTOCOLS: readonly FramingProtocol[] = ['jsonrpc-lines', 'lsp', 'none'];

export type { FrameProblem };

export interface FrameDecoder {
  /** Consumes a chunk of the stream; calls `onMessage` / `onProblem` for what it completes. */
  feed(chunk: Uint8Array): void;
  /** The stream ended: a partial frame is reported as `truncated`; the decoder is reset. */
  end(): void;
}

export interface FrameDecoderOptions {
  /** Largest message (line without its '\n', or `Content-Length` body). Default 4 MiB. */
  maxMessageBytes?: number;
  /** A frame was dropped or cut short; `detail` is a sentence for logs and `protocol` events. */
  onProblem?: (problem: FrameProblem, detail: string) => void;
}

export function createFrameDecoder(
  protocol: FramingProtocol,
  onMessage: (message: Buffer) => void,
  options: FrameDecoderOptions = {},
): FrameDecoder {
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_LINE_BYTES;
  if (!Number.isSafeInteger(maxMessageBytes) || maxMessageBytes < 1) {
    throw new InvalidArgumentError(
      'maxMessageBytes',
      `expected an integer ≥ 1, got ${String(maxMessageBytes)}`,
    );
  }
  const onProblem = options.onProblem;
  if (onProblem !== undefined && typeof onProblem !== 'function') {
    throw new InvalidArgumentError('onProblem', 'expected a function');
  }
  switch (protocol) {
    case 'lsp':
      return new ContentLengthDecoder(onMessage, {
        maxMessageBytes,
        ...(onProblem === undefined ? {} : { onProblem }),
      });
    case 'jsonrpc-lines':
    case 'none':
      return new LineFramer(onMessage, {
        maxLineBytes: maxMessageBytes,
        ...(onProblem === undefined
          ? {}
          : {
              onOversized: (bytes: number) =>
                onProblem('oversized', `a ${bytes}-byte line was dropped`),
              onTruncated: (bytes: number) =>
                onProblem('truncated', `${bytes} bytes without a final newline`),
            }),
      });
    default:
      throw new InvalidArgumentError(
        'protocol',
        `expected one of ${FRAMING_PROTOCOLS.map((p) => `'${p}'`).join(', ')}, got ${JSON.stringify(protocol)}`,
      );
  }
}
