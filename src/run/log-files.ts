/**
 * Log files of `atomvisor run` (`logs: { dir, maxBytes, keep }`, `--log-dir`): each server's output
 * to `DIR/NAME.log`, one line per line it wrote, prefixed with the time, its replica and pid;
 * atomvisor's own event log to `DIR/atomvisor.log`. Files rotate by size, logrotate style:
 * `NAME.log` → `NAME.log.1` → … → `NAME.log.KEEP`, the oldest deleted.
 *
 * Invariants:
 * - `write()` never blocks and never throws: it appends to an in-memory queue bounded by
 *   `bufferBytes`, and one asynchronous writer per file (libuv's thread pool does the syscalls)
 *   drains it in batches. A disk that does not keep up fills the queue; further lines are dropped
 *   and counted, and a marker line `… N lines dropped …` is written once there is room again —
 *   the coordinator's event loop is never the thing that waits.
 * - A file never grows past `maxBytes`: a batch stops at the line that would not fit, the file is
 *   rotated, and the rest goes to the new one (a single longer line is cut to fit).
 * - An error (disk full, permissions) drops the queued lines (counted), is reported once, and the
 *   file is retried a second later.
 */
import type { FileHandle } from 'node:fs/promises';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Coordinator } from '../coordinator/coordinator.ts';

export const DEFAULT_LOG_MAX_BYTES = 10 * 2 ** 20;
export const DEFAULT_LOG_KEEP = 5;
/** How much one file may hold in memory while the disk catches up (bytes, roughly). */
export const DEFAULT_LOG_BUFFER_BYTES = 2 ** 20;
/** atomvisor's own event log, next to the servers' files. */
export const EVENT_LOG_FILE = 'atomvisor.log';
const RETRY_MS = 1_000;

/**
 * `mkdir -p`, one level at a time. Node's own `mkdir(dir, { recursive: true })` never returns for
 * some paths (`/proc/nope`: the kernel answers ENOENT while the parent exists); this one fails
 * with that error instead. A file in the way is an error (EEXIST), as with `mkdir -p`.
 */
export async function makeDirectory(dir: string): Promise<void> {
  try {
    await mkdir(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' && (await stat(dir)).isDirectory()) return;
    const parent = dirname(dir);
    if (code !== 'ENOENT' || parent === dir) throw error;
    await makeDirectory(parent);
    try {
      await mkdir(dir);
    } catch (again) {
      if ((again as NodeJS.ErrnoException).code !== 'EEXIST') throw again;
    }
  }
}

export interface LogSettings {
  /** Absolute. */
  dir: string;
  maxBytes: number;
  keep: number;
}

/** `NAME.log`, with anything but letters, digits, `.`, `_` and `-` in NAME replaced by `_`. */
export function logFileName(server: string): string {
  return `${server.replace(/[^\w.-]/g, '_').replace(/^\.+/, '_')}.log`;
}

/**
 * Servers whose log files would be the same file (after logFileName), or atomvisor's own: one
 * problem per clash, as `{ path: 'servers.NAME', reason }`.
 */
export function logFileClashes(
  servers: readonly string[],
): { name: string; path: string; reason: string }[] {
  const taken = new Map<string, string>([[EVENT_LOG_FILE, "atomvisor's own event log"]]);
  const problems: { name: string; path: string; reason: string }[] = [];
  for (const name of servers) {
    const file = logFileName(name);
    const other = taken.get(file);
    if (other === undefined) taken.set(file, `server ${JSON.stringify(name)}'s`);
    else
      problems.push({
        name,
        path: `servers.${name}`,
        reason: `its log file ${file} would also be ${other}: rename it`,
      });
  }
  return problems;
}

export interface LogFileStats {
  /** Lines written to disk (marker lines included). */
  lines: number;
  /** Lines dropped because the disk did not keep up or failed. */
  dropped: number;
  rotations: number;
  errors: number;
}

export interface LogFileOptions {
  maxBytes: number;
  keep: number;
  bufferBytes?: number;
  /** `lines` were dropped (called when the marker line is queued, i.e. once there is room). */
  onDrop?(lines: number): void;
  /** Opening, writing or rotating failed; reported once until a write succeeds again. */
  onError?(error: Error): void;
}

export class LogFile {
  readonly path: string;
  readonly #maxBytes: number;
  readonly #keep: number;
  readonly #bufferBytes: number;
  readonly #onDrop: ((lines: number) => void) | undefined;
  readonly #onError: ((error: Error) => void) | undefined;
  #pending: string[] = [];
  /** Queued characters (+1 per line): the bound, approximately bytes. */
  #pendingSize = 0;
  #droppedSinceMarker = 0;
  #stats: LogFileStats = { lines: 0, dropped: 0, rotations: 0, errors: 0 };
  #handle: FileHandle | undefined;
  #size = 0;
  #opened = false;
  #pumping = false;
  #closed = false;
  #failing = false;
  #retryAt = 0;
  #idle: (() => void)[] = [];

  constructor(path: string, options: LogFileOptions) {
    this.path = path;
    this.#maxBytes = options.maxBytes;
    this.#keep = options.keep;
    this.#bufferBytes = options.bufferBytes ?? DEFAULT_LOG_BUFFER_BYTES;
    this.#onDrop = options.onDrop;
    this.#onError = options.onError;
  }

  /** Queue one line (without its newline). Never blocks, never throws; drops when full. */
  write(line: string): void {
    if (this.#closed) return;
    if (
      this.#pendingSize + line.length + 1 > this.#bufferBytes ||
      (this.#failing && performance.now() < this.#retryAt)
    ) {
      this.#droppedSinceMarker++;
      this.#stats.dropped++;
      return;
    }
    if (this.#droppedSinceMarker > 0) {
      const dropped = this.#droppedSinceMarker;
      this.#droppedSinceMarker = 0;
      this.#queue(
        `${new Date().toISOString()} atomvisor: ${dropped} lines dropped (writing fell behind or failed)`,
      );
      this.#onDrop?.(dropped);
    }
    this.#queue(line);
  }

  stats(): LogFileStats {
    return { ...this.#stats };
  }

  /** Resolves once every line queued so far has been written (or dropped). */
  flush(): Promise<void> {
    if (!this.#pumping && this.#pending.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /**
   * Stop taking lines, write what is queued (for up to `timeoutMs`), close the file. Resolves to
   * false when the deadline passed first (a write stuck on a dead disk is left behind).
   */
  async close(timeoutMs = 2_000): Promise<boolean> {
    this.#closed = true;
    let timer: NodeJS.Timeout | undefined;
    const flushed = await Promise.race([
      this.flush().then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (flushed) {
      const handle = this.#handle;
      this.#handle = undefined;
      await handle?.close().catch(() => {});
    }
    return flushed;
  }

  #queue(line: string): void {
    this.#pending.push(line);
    this.#pendingSize += line.length + 1;
    if (!this.#pumping) {
      this.#pumping = true;
      void this.#drain();
    }
  }

  /** The one writer: batches of whole lines, each fitting the current file; rotates between. */
  async #drain(): Promise<void> {
    while (this.#pending.length > 0) {
      try {
        if (this.#handle === undefined) await this.#open();
        const handle = this.#handle as unknown as FileHandle;
        const room = this.#maxBytes - this.#size;
        let bytes = 0;
        let count = 0;
        for (; count < this.#pending.length; count++) {
          let line = this.#pending[count] as string;
          let size = Buffer.byteLength(line) + 1;
          if (size > this.#maxBytes) {
            line = cut(line, this.#maxBytes - 1);
            this.#pending[count] = line;
            size = Buffer.byteLength(line) + 1;
          }
          if (bytes + size > room) break;
          bytes += size;
        }
        if (count === 0) {
          await this.#rotate();
          continue;
        }
        const batch = this.#pending.splice(0, count);
        for (const line of batch) this.#pendingSize -= line.length + 1;
        await handle.appendFile(`${batch.join('\n')}\n`);
        this.#size += bytes;
        this.#stats.lines += count;
        this.#failing = false;
      } catch (error) {
        await this.#fail(error as Error);
      }
    }
    this.#pumping = false;
    for (const wake of this.#idle.splice(0)) wake();
  }

  async #open(): Promise<void> {
    await makeDirectory(dirname(this.path));
    if (!this.#opened) {
      await this.#removeBeyondKeep();
      this.#opened = true;
    }
    const handle = await open(this.path, 'a');
    try {
      this.#size = (await handle.stat()).size;
    } catch (error) {
      await handle.close().catch(() => {});
      throw error;
    }
    this.#handle = handle;
  }

  async #rotate(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    await handle?.close();
    if (this.#keep === 0) {
      await rm(this.path, { force: true });
    } else {
      await rm(`${this.path}.${this.#keep}`, { force: true });
      for (let i = this.#keep - 1; i >= 1; i--)
        await rename(`${this.path}.${i}`, `${this.path}.${i + 1}`).catch(ignoreMissing);
      await rename(this.path, `${this.path}.1`).catch(ignoreMissing);
    }
    this.#size = 0;
    this.#stats.rotations++;
  }

  /** Rotated files an earlier run with a larger `keep` left behind. */
  async #removeBeyondKeep(): Promise<void> {
    const base = basename(this.path);
    let names: string[];
    try {
      names = await readdir(dirname(this.path));
    } catch {
      return;
    }
    for (const name of names) {
      if (!name.startsWith(`${base}.`)) continue;
      const n = name.slice(base.length + 1);
      if (/^\d+$/.test(n) && Number(n) > this.#keep)
        await rm(join(dirname(this.path), name), { force: true });
    }
  }

  async #fail(error: Error): Promise<void> {
    this.#stats.errors++;
    const lost = this.#pending.length;
    this.#pending = [];
    this.#pendingSize = 0;
    this.#droppedSinceMarker += lost;
    this.#stats.dropped += lost;
    const handle = this.#handle;
    this.#handle = undefined;
    await handle?.close().catch(() => {});
    this.#retryAt = performance.now() + RETRY_MS;
    if (!this.#failing) {
      this.#failing = true;
      this.#onError?.(error);
    }
  }
}

function ignoreMissing(error: NodeJS.ErrnoException): void {
  if (error.code !== 'ENOENT') throw error;
}

/** `line` cut to at most `bytes` UTF-8 bytes (ending with `…`), never inside a character. */
function cut(line: string, bytes: number): string {
  const buf = Buffer.from(line);
  let end = Math.max(0, bytes - 3);
  // buf[end] is the first byte left out: if it continues a character, leave that one out whole.
  while (end > 0 && ((buf[end] as number) & 0xc0) === 0x80) end--;
  return `${buf.subarray(0, end).toString()}…`;
}

/** What a line of server output says about its process. */
interface ProcessInfo {
  replica: number;
  pid: number;
}

/** A line of a server's output: 'stderr' today, 'stdout' for `protocol: 'none'` servers. */
interface OutputEvent {
  key: string;
  slot: number;
  line: string;
}

/**
 * The log files of one `atomvisor run`: a LogFile per server (created at its first line) and the
 * event log. Follows the coordinator's output events; `reconfigure` moves to new settings.
 */
export class RunLogs {
  readonly #coordinator: Coordinator;
  readonly #report: (name: string, fields: object) => void;
  #settings: LogSettings;
  #events: LogFile;
  readonly #servers = new Map<string, LogFile>();
  readonly #processes = new Map<number, ProcessInfo>();
  readonly #listeners: [string, (...args: never[]) => void][] = [];

  /**
   * `report`: where drops and errors are told (the event log itself, and stdout). Server output
   * lines are written to their files only.
   */
  constructor(
    coordinator: Coordinator,
    settings: LogSettings,
    report: (name: string, fields: object) => void,
  ) {
    this.#coordinator = coordinator;
    this.#settings = settings;
    this.#report = report;
    this.#events = this.#file(EVENT_LOG_FILE, undefined);
    this.#on('spawn', (e: { key: string; slot: number; pid: number }) => {
      this.#processes.set(e.slot, { pid: e.pid, replica: this.#replicaOf(e.key, e.slot) });
    });
    this.#on('stderr', (e: OutputEvent) => this.#line(e, 'stderr'));
    // Emitted by `protocol: 'none'` servers (plain processes) once the coordinator supports them;
    // until then it never fires.
    this.#on('stdout', (e: OutputEvent) => this.#line(e, 'stdout'));
  }

  get settings(): LogSettings {
    return this.#settings;
  }

  /** A line for atomvisor's own event log. */
  event(line: string): void {
    this.#events.write(line);
  }

  /** Per file (`atomvisor.log`, `NAME.log`): lines written, dropped, rotations, errors. */
  stats(): Record<string, LogFileStats> {
    const out: Record<string, LogFileStats> = { [EVENT_LOG_FILE]: this.#events.stats() };
    for (const [name, file] of this.#servers) out[logFileName(name)] = file.stats();
    return out;
  }

  /** New settings: every file is flushed and closed, and reopened under them at its next line. */
  async reconfigure(settings: LogSettings): Promise<void> {
    const old = [this.#events, ...this.#servers.values()];
    this.#settings = settings;
    this.#servers.clear();
    this.#events = this.#file(EVENT_LOG_FILE, undefined);
    await Promise.all(old.map((f) => f.close()));
  }

  /** A server was removed: close its file once its last lines are written. */
  async forget(server: string): Promise<void> {
    const file = this.#servers.get(server);
    this.#servers.delete(server);
    await file?.close();
  }

  /** Stop following the coordinator; flush and close every file (up to `timeoutMs`). */
  async close(timeoutMs = 2_000): Promise<boolean> {
    for (const [event, listener] of this.#listeners.splice(0))
      this.#coordinator.off(event, listener as (...args: unknown[]) => void);
    const files = [...this.#servers.values(), this.#events];
    this.#servers.clear();
    const results = await Promise.all(files.map((f) => f.close(timeoutMs)));
    return results.every(Boolean);
  }

  #on<T>(event: string, listener: (payload: T) => void): void {
    this.#coordinator.on(event, listener);
    this.#listeners.push([event, listener as (...args: never[]) => void]);
  }

  #line(e: OutputEvent, stream: 'stderr' | 'stdout'): void {
    let info = this.#processes.get(e.slot);
    if (info === undefined) {
      // Output before its spawn event reached us: ask the table once.
      const replica = this.#replicaOf(e.key, e.slot);
      const pid = this.#pidOf(e.key, e.slot);
      info = { replica, pid };
      if (pid > 0) this.#processes.set(e.slot, info);
    }
    let file = this.#servers.get(e.key);
    if (file === undefined) {
      file = this.#file(logFileName(e.key), e.key);
      this.#servers.set(e.key, file);
    }
    const replica = info.replica < 0 ? '?' : info.replica;
    file.write(`${new Date().toISOString()} #${replica} pid=${info.pid} ${stream}: ${e.line}`);
  }

  #file(name: string, server: string | undefined): LogFile {
    const path = join(this.#settings.dir, name);
    const fields = server === undefined ? { file: path } : { key: server, file: path };
    return new LogFile(path, {
      maxBytes: this.#settings.maxBytes,
      keep: this.#settings.keep,
      onDrop: (lines) => this.#report('log-dropped', { ...fields, lines }),
      onError: (error) => this.#report('log-error', { ...fields, error: error.message }),
    });
  }

  #replicaOf(key: string, slot: number): number {
    try {
      return this.#coordinator.snapshot(key).replicas.find((r) => r.slot === slot)?.replica ?? -1;
    } catch {
      return -1;
    }
  }

  #pidOf(key: string, slot: number): number {
    try {
      return this.#coordinator.snapshot(key).replicas.find((r) => r.slot === slot)?.pid ?? 0;
    } catch {
      return 0;
    }
  }
}
