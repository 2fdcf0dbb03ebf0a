/**
 * Messages over a FrameRing (src/shm/frame-ring.ts): what the coordinator and an IO worker say to
 * each other on the data plane, one ring each way per IO worker.
 *
 *   coordinator → worker   MESSAGE   a JSON-RPC message for the server of (slot, generation):
 *                                    the worker frames it for the wire ('\n' or Content-Length)
 *   worker → coordinator   MESSAGE   one message the server wrote, as the bytes it wrote them
 *                          STDERR    one line the server wrote to stderr
 *                          STDOUT    one stdout line of a server that speaks no protocol
 *                          EVENT     an IoEvent (exit, protocol problem, memory, ...) as JSON
 *
 * Everything about one process travels in one ring, in the order it happened: a response the
 * server wrote before it exited is always read before its exit event.
 *
 * FrameSender never waits and never drops: a message goes into the ring at once if there is room,
 * else into a FIFO backlog (everything sent after it queues behind it, so order holds) that is
 * moved into the ring as the consumer frees space. A message longer than the ring's largest frame
 * is cut into chunks (the MORE flag on all but the last) and FrameReceiver joins them again.
 * Frames are published once per microtask turn: a burst of sends costs one index store and at
 * most one wake-up of the other side.
 */
import type { FrameRing } from '../shm/frame-ring.ts';

const RESOLVED = Promise.resolve();

export const FrameKind = {
  MESSAGE: 1,
  STDERR: 2,
  STDOUT: 3,
  EVENT: 4,
} as const;

/** Buffer's own UTF-8 writer and reader, without `write`/`toString`'s argument juggling. */
export type Utf8Buffer = Buffer & {
  utf8Write(text: string, offset: number, length: number): number;
  utf8Slice(start: number, end: number): string;
};

interface Pending {
  kind: number;
  slot: number;
  generation: number;
  data: Uint8Array;
  offset: number;
}

export class FrameSender {
  readonly #ring: FrameRing;
  readonly #backlog: Pending[] = [];
  #backlogBytes = 0;
  #publishQueued = false;
  #waiting = false;
  #onDrained: (() => void) | undefined;
  readonly #publish = () => {
    this.#publishQueued = false;
    this.#ring.publish();
  };

  constructor(ring: FrameRing, options: { onDrained?: () => void } = {}) {
    this.#ring = ring;
    this.#onDrained = options.onDrained;
  }

  /** Bytes waiting for room in the ring (the backlog). */
  get backlogBytes(): number {
    return this.#backlogBytes;
  }

  /** Send `text` as UTF-8: written straight into the ring when it fits (no intermediate copy). */
  sendText(kind: number, slot: number, generation: number, text: string): void {
    const ring = this.#ring;
    const worst = text.length * 3; // UTF-8 bytes per UTF-16 unit, at most
    if (this.#backlog.length === 0 && worst <= ring.maxPayload) {
      const at = ring.reserve(worst);
      if (at >= 0) {
        const written = (ring.bytes as Utf8Buffer).utf8Write(text, at, worst);
        ring.commit(kind, slot, generation, false, written);
        this.#queuePublish();
        return;
      }
    }
    this.#sendBytes(kind, slot, generation, Buffer.from(text, 'utf8'), false);
  }

  /** Send `data`; it is copied (into the ring, or into the backlog), so the caller may reuse it. */
  sendBytes(kind: number, slot: number, generation: number, data: Uint8Array): void {
    this.#sendBytes(kind, slot, generation, data, true);
  }

  /** Publish now instead of at the end of this microtask turn. */
  flush(): void {
    if (this.#publishQueued) this.#publish();
  }

  #sendBytes(kind: number, slot: number, generation: number, data: Uint8Array, copy: boolean) {
    const ring = this.#ring;
    let offset = 0;
    if (this.#backlog.length === 0) {
      let wrote = false;
      do {
        // An empty message is still one (empty) frame.
        const end = Math.min(data.length, offset + ring.maxPayload);
        if (!ring.tryWrite(kind, slot, generation, end < data.length, data, offset, end)) break;
        wrote = true;
        offset = end;
      } while (offset < data.length);
      if (wrote) {
        this.#queuePublish();
        if (offset >= data.length) return;
      }
    }
    const rest = copy ? Buffer.from(data.subarray(offset)) : data.subarray(offset);
    this.#backlog.push({ kind, slot, generation, data: rest, offset: 0 });
    this.#backlogBytes += rest.length;
    if (!this.#waiting) void this.#drainBacklog();
  }

  #queuePublish(): void {
    if (this.#publishQueued) return;
    this.#publishQueued = true;
    // A resolved promise, not queueMicrotask (which wraps every callback in an AsyncResource).
    RESOLVED.then(this.#publish);
  }

  /** Move the backlog into the ring as space frees up; runs while there is a backlog. */
  async #drainBacklog(): Promise<void> {
    this.#waiting = true;
    const ring = this.#ring;
    try {
      while (this.#backlog.length > 0) {
        const head = this.#backlog[0] as Pending;
        const end = Math.min(head.data.length, head.offset + ring.maxPayload);
        const more = end < head.data.length;
        if (
          ring.tryWrite(head.kind, head.slot, head.generation, more, head.data, head.offset, end)
        ) {
          this.#backlogBytes -= end - head.offset;
          head.offset = end;
          if (!more) this.#backlog.shift();
          continue;
        }
        ring.publish(); // what went in so far, so the consumer can free space
        if (ring.closed) {
          this.#backlog.length = 0;
          this.#backlogBytes = 0;
          return;
        }
        const wait = ring.waitForSpace(end - head.offset);
        if (wait !== undefined) await wait;
      }
      ring.publish();
    } finally {
      this.#waiting = false;
    }
    this.#onDrained?.();
  }
}

/** A complete message: `data[start, end)`, valid during the call only. */
export type MessageHandler = (
  kind: number,
  slot: number,
  generation: number,
  data: Buffer,
  start: number,
  end: number,
) => void;

export class FrameReceiver {
  readonly #ring: FrameRing;
  readonly #onMessage: MessageHandler;
  /** Chunks of messages not complete yet, by slot. */
  readonly #partial = new Map<number, { kind: number; generation: number; parts: Buffer[] }>();
  #running: Promise<void> | undefined;
  #pollQueued = false;
  readonly #poll = (): void => {
    this.#pollQueued = false;
    do this.drain();
    while (!this.#ring.sleepIfEmpty());
  };
  readonly #visit = (
    kind: number,
    slot: number,
    generation: number,
    more: boolean,
    data: Buffer,
    start: number,
    end: number,
  ): void => {
    let partial = this.#partial.get(slot);
    if (partial !== undefined && (partial.kind !== kind || partial.generation !== generation)) {
      // A sender finishes one message before it starts the next, so this is the rest of a
      // process that is gone: drop it.
      this.#partial.delete(slot);
      partial = undefined;
    }
    if (partial === undefined) {
      if (!more) {
        this.#deliver(kind, slot, generation, data, start, end); // the common case: no copy
        return;
      }
      this.#partial.set(slot, {
        kind,
        generation,
        parts: [Buffer.from(data.subarray(start, end))],
      });
      return;
    }
    partial.parts.push(Buffer.from(data.subarray(start, end))); // the ring reuses its space
    if (more) return;
    this.#partial.delete(slot);
    const whole = Buffer.concat(partial.parts);
    this.#deliver(kind, slot, generation, whole, 0, whole.length);
  };

  constructor(ring: FrameRing, onMessage: MessageHandler) {
    this.#ring = ring;
    this.#onMessage = onMessage;
  }

  /** Read every message available now. Returns the number of frames read. */
  drain(): number {
    return this.#ring.read(this.#visit);
  }

  /**
   * This thread is busy anyway (it just sent something whose answer will come back here): read at
   * the end of this event-loop turn instead of being woken for each frame meanwhile.
   */
  poke(): void {
    if (this.#pollQueued || this.#running === undefined) return;
    this.#pollQueued = true;
    this.#ring.stayAwake();
    setImmediate(this.#poll);
  }

  /** Read messages as they come until the ring closes (then drain what is left). */
  run(): Promise<void> {
    this.#running ??= this.#loop();
    return this.#running;
  }

  async #loop(): Promise<void> {
    const ring = this.#ring;
    for (;;) {
      this.drain();
      if (ring.closed) {
        this.drain();
        return;
      }
      const wait = ring.waitForData();
      if (wait !== undefined) await wait;
    }
  }

  #deliver(
    kind: number,
    slot: number,
    generation: number,
    data: Buffer,
    start: number,
    end: number,
  ): void {
    try {
      this.#onMessage(kind, slot, generation, data, start, end);
    } catch (error) {
      // A handler's bug must not stop the data plane; surface it like a listener's error.
      queueMicrotask(() => {
        throw error;
      });
    }
  }
}
