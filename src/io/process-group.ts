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

/** A process's start time in clock ticks since boot (/proc/PID/stat field 22), if knowable. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) may contain spaces and parentheses: split after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19]; // field 22 overall = index 19 after pid and comm
  } catch {
    return undefined;
  }
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
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // field 3: state ('Z' = zombie), field 5: pgrp
      if (Number(rest[2]) === pgid && !(liveOnly && rest[0] === 'Z')) members.push(Number(entry));
    } catch {
      // the process exited while we looked
    }
  }
  return members;
}
