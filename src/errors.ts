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

/** A state-machine move the table does not allow (a bug in the caller, not a race). */
export class IllegalTransitionError extends AtomvisorError {
  constructor(from: string, to: string) {
    super('ERR_ATOMVISOR_ILLEGAL_TRANSITION', `a connection cannot move from '${from}' to '${to}'`);
  }
}

/** Releasing a lease that is not (or no longer) held under that id: released twice or evicted. */
export class NotLeaseHolderError extends AtomvisorError {
  constructor(slot: number, leaseId: number) {
    super(
      'ERR_ATOMVISOR_NOT_LEASE_HOLDER',
      `lease ${leaseId} on slot ${slot} is not held: it was already released or was evicted`,
    );
  }
}

/** The server answered a request with a JSON-RPC error object; its fields are kept as sent. */
export class JsonRpcError extends AtomvisorError {
  /** The remote error's numeric JSON-RPC code (e.g. -32601 method not found). */
  readonly rpcCode: number;
  /** The remote error's own message, unprefixed. */
  readonly rpcMessage: string;
  readonly data: unknown;
  readonly method: string | undefined;

  constructor(error: { code: number; message: string; data?: unknown }, method?: string) {
    super(
      'ERR_ATOMVISOR_JSONRPC',
      `${method === undefined ? 'request' : `'${method}'`} failed on the server: ${error.message} (JSON-RPC error ${error.code})`,
    );
    this.rpcCode = error.code;
    this.rpcMessage = error.message;
    this.data = error.data;
    this.method = method;
  }
}

/** The server process went away (exited, was killed, or closed its pipes) with requests pending. */
export class ConnectionLostError extends AtomvisorError {
  readonly exitCode: number | null;
  readonly signal: string | null;

  constructor(exitCode: number | null, signal: string | null, detail?: string) {
    const how =
      signal !== null
        ? `killed by ${signal}`
        : exitCode !== null
          ? `exited with code ${exitCode}`
          : 'closed its pipes';
    super(
      'ERR_ATOMVISOR_CONNECTION_LOST',
      `the connection to the server was lost: the process ${how}${detail === undefined ? '' : ` (${detail})`}`,
    );
    this.exitCode = exitCode;
    this.signal = signal;
  }
}

/** A bounded wait queue is full: the caller must back off instead of queueing without limit. */
export class QueueFullError extends AtomvisorError {
  readonly limit: number;

  constructor(what: string, limit: number) {
    super('ERR_ATOMVISOR_QUEUE_FULL', `${what} is full (${limit} waiting); try again later`);
    this.limit = limit;
  }
}

/** The process could not be started (ENOENT, EACCES, a bad cwd, ...). */
export class SpawnError extends AtomvisorError {
  readonly field: string;
  readonly reason: string;
  readonly command: string;

  constructor(command: string, reason: string, field = 'spec.command') {
    super('ERR_ATOMVISOR_SPAWN', `could not start ${JSON.stringify(command)}: ${reason}`);
    this.field = field;
    this.reason = reason;
    this.command = command;
  }
}

/** The connection has no running process of the expected generation (it exited or was replaced). */
export class NotRunningError extends AtomvisorError {
  constructor(what: string) {
    super('ERR_ATOMVISOR_NOT_RUNNING', `${what} is not running`);
  }
}

/** The coordinator (or this connection) is closing or closed: no new work is accepted. */
export class ClosedError extends AtomvisorError {
  constructor(what: string) {
    super('ERR_ATOMVISOR_CLOSED', `${what} is closed`);
  }
}

/** The connection's restart breaker tripped: it is failed until restarted by hand. */
export class ConnectionFailedError extends AtomvisorError {
  readonly key: string;

  constructor(key: string, detail: string) {
    super(
      'ERR_ATOMVISOR_CONNECTION_FAILED',
      `connection ${JSON.stringify(key)} has failed: ${detail}`,
    );
    this.key = key;
  }
}

/** A health probe cannot run as configured (an exec command that does not exist, a module probe without that export, ...). */
export class ProbeConfigError extends AtomvisorError {
  readonly key: string;
  readonly probe: string;
  readonly field: string;

  constructor(key: string, probe: string, reason: string) {
    super(
      'ERR_ATOMVISOR_PROBE_CONFIG',
      `the ${probe} probe of ${JSON.stringify(key)} is misconfigured: ${reason}`,
    );
    this.key = key;
    this.probe = probe;
    this.field = `spec.${probe}`;
  }
}

/** An `atomvisor run` config file that cannot be used: every problem with its path in the file. */
export class ConfigError extends AtomvisorError {
  readonly file: string;
  readonly problems: readonly { path: string; reason: string }[];

  constructor(file: string, problems: readonly { path: string; reason: string }[]) {
    super(
      'ERR_ATOMVISOR_CONFIG',
      problems.map((p) => `${file}: ${p.path === '' ? '' : `${p.path}: `}${p.reason}`).join('\n'),
    );
    this.file = file;
    this.problems = problems;
  }
}
