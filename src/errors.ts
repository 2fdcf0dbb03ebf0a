/**
 * Every error atomvisor throws is an `AtomvisorError` with a stable `code` string, so callers can
 * branch on `err.code` without parsing messages (the convention of Node's own `lib/` and undici).
 */

export class AtomvisorError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Bad input: names the offending field and says why it was refused. */
export class InvalidArgumentError extends AtomvisorError {
  readonly field: string;
  readonly reason: string;

  constructor(field: string, reason: string) {
    super('ERR_ATOMVISOR_INVALID_ARGUMENT', `invalid ${field}: ${reason}`);
    this.field = field;
    this.reason = reason;
  }
}

/** A handle made by another layout version (or not by atomvisor at all). */
export class LayoutMismatchError extends AtomvisorError {
  readonly field: string;
  readonly reason: string;

  constructor(field: string, reason: string) {
    super('ERR_ATOMVISOR_LAYOUT_MISMATCH', `incompatible ${field}: ${reason}`);
    this.field = field;
    this.reason = reason;
  }
}

/** A bounded wait ran out of time. */
export class TimeoutError extends AtomvisorError {
  readonly timeoutMs: number;

  constructor(what: string, timeoutMs: number) {
    super('ERR_ATOMVISOR_TIMEOUT', `${what} timed out after ${timeoutMs} ms`);
    this.timeoutMs = timeoutMs;
  }
}

/** A blocking call was made on the main thread, where blocking would freeze the event loop. */
export class MainThreadBlockingError extends AtomvisorError {
  constructor(call: string, alternative: string) {
    super(
      'ERR_ATOMVISOR_MAIN_THREAD_BLOCKING',
      `${call} would block the main thread's event loop; use ${alternative} on the main thread`,
    );
  }
}

/** `unlock()` (or another owner-only call) by a thread that does not hold the lock. */
export class NotOwnerError extends AtomvisorError {
  constructor(what: string, callerThreadId: number, ownerThreadId: number | undefined) {
    const owner = ownerThreadId === undefined ? 'nobody' : `thread ${ownerThreadId}`;
    super(
      'ERR_ATOMVISOR_NOT_OWNER',
      `${what} called by thread ${callerThreadId}, but the lock is held by ${owner}`,
    );
  }
}

/** A blocking lock() by the thread that already holds the lock: it could never return. */
export class DeadlockError extends AtomvisorError {
  constructor(what: string, threadId: number) {
    super(
      'ERR_ATOMVISOR_DEADLOCK',
      `${what} called by thread ${threadId}, which already holds the lock (the mutex is not recursive)`,
    );
  }
}

/** Sending on (or waiting to send on) a closed channel. */
export class ChannelClosedError extends AtomvisorError {
  constructor() {
    super('ERR_ATOMVISOR_CHANNEL_CLOSED', 'the channel is closed');
  }
}

/** A second object tried to take a single-producer or single-consumer role. */
export class ChannelRoleError extends AtomvisorError {
  constructor(role: 'producer' | 'consumer', mode: string) {
    super(
      'ERR_ATOMVISOR_CHANNEL_ROLE',
      `this ${mode} channel already has its one ${role}; create the channel with a mode that allows several, or use one ${role} object`,
    );
  }
}

/** A CAS loop or bounded retry gave up because the word kept changing under it. */
export class ContentionError extends AtomvisorError {
  constructor(what: string, attempts: number) {
    super(
      'ERR_ATOMVISOR_CONTENTION',
      `${what} gave up after ${attempts} attempts under contention`,
    );
  }
}
