/**
 * The state file: where a coordinator records the process groups it runs, so that if its host
 * process dies (even by SIGKILL) the next coordinator on the same file can reap what was left.
 *
 * Each group is recorded with its leader's start time (/proc), because pids are reused: a group is
 * killed only if
 *   - its leader is alive with the recorded start time (the very same process), or
 *   - its leader is gone but members of its process group remain (a pgid cannot be handed to a new
 *     group while the old one still has members, so these are the dead instance's orphans).
 * A state file whose recorded host is still alive belongs to a live coordinator: reusing it is an
 * error, not a reaping.
 *
 * Writes are asynchronous (the main thread never does sync I/O), coalesced, and atomic (write a
 * temporary file, then rename).
 */
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { AtomvisorError } from '../errors.ts';
import { groupMembers, processStartTime, signalGroup } from './process-group.ts';

interface Recorded {
  version: 1;
  host: { pid: number; start: string | undefined };
  groups: { pid: number; start: string | undefined }[];
}

export class StateFileInUseError extends AtomvisorError {
  constructor(path: string, pid: number) {
    super(
      'ERR_ATOMVISOR_STATE_FILE_IN_USE',
      `state file ${path} belongs to a running coordinator (pid ${pid})`,
    );
  }
}

export interface ReapReport {
  /** Groups killed because they were left behind by a dead coordinator. */
  killed: number[];
  /** Recorded groups that were gone, or whose pid now belongs to an unrelated process. */
  skipped: number[];
}

export class StateFile {
  readonly path: string;
  readonly #groups = new Map<number, string | undefined>();
  #writing: Promise<void> | undefined;
  #dirty = false;
  /** reapLeftovers() succeeded: the file is this process's to write and to discard. */
  #claimed = false;

  constructor(path: string) {
    this.path = path;
  }

  /** Kill the groups a dead coordinator left in this file, then claim the file for this process. */
  async reapLeftovers(): Promise<ReapReport> {
    const report: ReapReport = { killed: [], skipped: [] };
    let recorded: Recorded | undefined;
    try {
      recorded = JSON.parse(await readFile(this.path, 'utf8')) as Recorded;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') recorded = undefined; // unreadable: start afresh
    }
    if (recorded?.version === 1) {
      const host = recorded.host;
      if (
        host.pid !== process.pid &&
        host.start !== undefined &&
        processStartTime(host.pid) === host.start
      ) {
        throw new StateFileInUseError(this.path, host.pid);
      }
      for (const group of recorded.groups ?? []) {
        if (isLeftover(group.pid, group.start) && signalGroup(group.pid, 'SIGKILL'))
          report.killed.push(group.pid);
        else report.skipped.push(group.pid);
      }
    }
    await this.#flush();
    this.#claimed = true;
    return report;
  }

  add(pid: number): void {
    this.#groups.set(pid, processStartTime(pid));
    this.#schedule();
  }

  remove(pid: number): void {
    if (this.#groups.delete(pid)) this.#schedule();
  }

  /** Resolves when everything recorded so far is on disk. */
  async settled(): Promise<void> {
    while (this.#writing) await this.#writing;
  }

  /** Remove the file (a clean shutdown leaves nothing to reap) — if it was ever ours. */
  async discard(): Promise<void> {
    this.#groups.clear();
    await this.settled();
    // A coordinator refused the file (StateFileInUseError) never claimed it: it belongs to the
    // live coordinator that does, and deleting it would leave that one's groups unreapable.
    if (!this.#claimed) return;
    await unlink(this.path).catch(() => {});
  }

  #schedule(): void {
    this.#dirty = true;
    if (this.#writing === undefined) {
      this.#writing = this.#drain().finally(() => {
        this.#writing = undefined;
      });
    }
  }

  async #drain(): Promise<void> {
    while (this.#dirty) {
      this.#dirty = false;
      await this.#flush();
    }
  }

  async #flush(): Promise<void> {
    const record: Recorded = {
      version: 1,
      host: { pid: process.pid, start: processStartTime(process.pid) },
      groups: [...this.#groups].map(([pid, start]) => ({ pid, start })),
    };
    const tmp = `${this.path}.${process.pid}.tmp`;
    await writeFile(tmp, `${JSON.stringify(record)}\n`);
    await rename(tmp, this.path);
  }
}

function isLeftover(pgid: number, start: string | undefined): boolean {
  const leaderStart = processStartTime(pgid);
  if (leaderStart !== undefined) return start !== undefined && leaderStart === start;
  return groupMembers(pgid).length > 0;
}
