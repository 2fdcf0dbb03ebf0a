/**
 * Resident memory (and CPU time) of whole process groups, for spec.maxMemoryMb and the MEM/CPU
 * columns. A server's memory is its group's:
 * pm2 reads only the process it started, so a server whose child does the work can grow without
 * bound under it. One pass over /proc finds every member of every group asked about (one scan,
 * however many groups), then each member's VmRSS is read from /proc/PID/status (kB, so no page
 * size is assumed). Zombies hold no memory and are skipped. Linux only: elsewhere the map is empty.
 *
 * Runs in the IO worker that owns the processes, never on the coordinator's thread.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { procStat } from './process-group.ts';

/** A process group found over its memory limit (the IO worker reports it once per process). */
export interface MemoryBreach {
  slot: number;
  generation: number;
  /** The server: the group's leader. */
  pid: number;
  rssBytes: number;
  /** Live processes in the group, the server included. */
  members: number;
  limitBytes: number;
}

export interface GroupMemory {
  /** Sum of the members' resident set sizes, in bytes. */
  rssBytes: number;
  /**
   * CPU time the live members have used (user + system), in clock ticks (USER_HZ: 100 per second
   * on Linux). Read from the same /proc/PID/stat line, so it costs nothing extra; the difference
   * between two checks is the group's CPU use in between (members that exited meanwhile drop out).
   */
  cpuTicks: number;
  /** Live members counted (the leader included while it runs). */
  members: number;
}

/** Resident memory of each group in `pgids`; groups with no live member are left out. */
export function groupMemory(pgids: Iterable<number>): Map<number, GroupMemory> {
  const wanted = new Set(pgids);
  const out = new Map<number, GroupMemory>();
  if (wanted.size === 0) return out;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(entry); // undefined: it exited while we looked
    if (stat === undefined || !wanted.has(stat.pgrp) || stat.state === 'Z') continue;
    const rss = residentBytes(entry);
    if (rss === undefined) continue;
    const group = out.get(stat.pgrp) ?? { rssBytes: 0, cpuTicks: 0, members: 0 };
    group.rssBytes += rss;
    group.cpuTicks += stat.cpuTicks;
    group.members++;
    out.set(stat.pgrp, group);
  }
  return out;
}

/** VmRSS of one process in bytes, or undefined (gone, or a kernel thread without one). */
export function residentBytes(pid: number | string): number | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  return match === null ? undefined : Number(match[1]) * 1024;
}
