/**
 * Child processes in their own process groups, and how to stop them for sure.
 *
 * - spawnInGroup: no shell, `detached: true` so the child leads a new process group (pgid = pid)
 *   and a signal to -pid reaches its whole tree; stdio are pipes (stdin/stdout for JSON-RPC,
 *   stderr for logs).
 * - stopGroup: the MCP SDK's escalation, made whole-tree: end stdin → wait → SIGTERM the group →
 *   wait → SIGKILL the group; then SIGKILL whatever of the group outlived its leader. It waits for
 *   'exit', never 'close' (a grandchild holding the pipes can delay 'close' forever).
 * - Start times from /proc let a later coordinator tell a leftover group from a reused pid.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface SpawnRequest {
  command: string;
  args: string[];
  cwd?: string | undefined;
  env: Record<string, string>;
}

export function spawnInGroup(request: SpawnRequest): ChildProcess {
  return spawn(request.command, request.args, {
    cwd: request.cwd,
    env: request.env,
    shell: false,
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
    windowsHide: true,
  });
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** How long stopGroup waits for a SIGKILLed group's members to die (they normally take ms). */
const GROUP_GONE_WAIT_MS = 2_000;

/** Resolves once no live (non-zombie) process is left in group `pgid`, or after `ms`. */
export async function groupGone(pgid: number, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  for (;;) {
    if (liveMembers(pgid).length === 0) return true;
    if (performance.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export type StopStage = 'already-exited' | 'stdin' | 'sigterm' | 'sigkill';

/** Resolves when the child has exited (at once if it already has). */
export function exited(child: ChildProcess): Promise<ExitInfo> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/** Send `signal` to the group led by `pgid`; false if no such group (already gone). */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

export function groupAlive(pgid: number): boolean {
  return signalGroup(pgid, 0 as unknown as NodeJS.Signals);
}

function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    promise.then((value) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}

/**
 * Stop the child and its whole process group. Never throws; resolves with how the leader exited
 * and which stage of the escalation it took.
 */
export async function stopGroup(
  child: ChildProcess,
  grace: { stdinGraceMs: number; termGraceMs: number },
): Promise<ExitInfo & { stage: StopStage }> {
  const pid = child.pid;
  const exit = exited(child);
  let stage: StopStage = 'already-exited';
  if (child.exitCode === null && child.signalCode === null) {
    stage = 'stdin';
    child.stdin?.end();
    let info = await within(exit, grace.stdinGraceMs);
    if (info === undefined && pid !== undefined) {
      stage = 'sigterm';
      signalGroup(pid, 'SIGTERM');
      info = await within(exit, grace.termGraceMs);
      if (info === undefined) {
        stage = 'sigkill';
        signalGroup(pid, 'SIGKILL');
      }
    }
  }
  const info = await exit;
  // The leader is gone; anything left in its group (grandchildren) is an orphan now. Kill it and
  // wait (bounded) until it is really gone, so "stopped" means stopped when this resolves.
  if (pid !== undefined && signalGroup(pid, 'SIGKILL')) await groupGone(pid, GROUP_GONE_WAIT_MS);
  child.stdout?.destroy();
  child.stderr?.destroy();
  child.stdin?.destroy();
  return { ...info, stage };
}

/** The fields of /proc/PID/stat this project reads, or undefined (no such process, or no /proc). */
export interface ProcStat {
  /** 'R', 'S', 'D', 'Z' (zombie: exited, not yet reaped), 'X' (dead)… */
  state: string;
  ppid: number;
  pgrp: number;
  /** Start time in clock ticks since boot (field 22), as text. */
  startTime: string | undefined;
  /** CPU time used so far, user + system (fields 14 and 15), in clock ticks (USER_HZ, 100). */
  cpuTicks: number;
}

export function procStat(pid: number | string): ProcStat | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Field 2 (comm) may contain spaces and parentheses: split after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 overall (state), rest[1] field 4 (ppid), rest[2] field 5 (pgrp): field N
  // is rest[N - 3].
  return {
    state: rest[0] ?? '',
    ppid: Number(rest[1]),
    pgrp: Number(rest[2]),
    startTime: rest[19],
    cpuTicks: Number(rest[11]) + Number(rest[12]),
  };
}

/** A process's start time in clock ticks since boot (/proc/PID/stat field 22), if knowable. */
export function processStartTime(pid: number): string | undefined {
  return procStat(pid)?.startTime;
}

/**
 * Whether `pid` is a running process. A zombie (exited, not yet reaped: orphans in containers are
 * reaped late by PID 1) is dead, though `kill(pid, 0)` still succeeds on it. Where there is no
 * /proc (not Linux), `kill(pid, 0)` is all there is.
 */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  const stat = procStat(pid);
  if (stat === undefined) return process.platform !== 'linux';
  return stat.state !== 'Z' && stat.state !== 'X';
}

/** Members of group `pgid` that are not zombies (exited, waiting to be reaped). */
export function liveMembers(pgid: number): number[] {
  return groupMembers(pgid, true);
}

/** Pids whose process group is `pgid` (Linux /proc scan; empty where /proc is absent). */
export function groupMembers(pgid: number, liveOnly = false): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const members: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(entry); // undefined: it exited while we looked
    if (stat?.pgrp === pgid && !(liveOnly && stat.state === 'Z')) members.push(Number(entry));
  }
  return members;
}
