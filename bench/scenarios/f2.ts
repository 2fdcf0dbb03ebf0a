/**
 * F2 scenario: a hung process (ignores stdin EOF and SIGTERM) is closed while other callers keep
 * sending requests to another connection.
 *
 * - naive: bench/naive/f2-close-under-lock.ts — the cleanup closes it under the pool mutex and
 *   waits for the exit; the harness SIGKILLs the process after `hangMs` so the round ends.
 * - atomvisor: `unregister()` of the hung key with stop escalation stdinGrace + termGrace =
 *   `hangMs` (then SIGKILL): the slot is detached by CAS and the close runs outside any lock.
 *
 * Both close windows last about `hangMs`; the figure is the other callers' p99 during it,
 * against their idle p99 over an equal window just before.
 */
import { createCoordinator } from '../../src/coordinator/coordinator.ts';
import { rpcServer } from '../fixtures/rpc-server.ts';
import { NaiveStdioPool } from '../naive/f2-close-under-lock.ts';
import { type StdioClient, startClients } from '../naive/stdio-client.ts';
import { type BystanderRound, bystanderRound } from './bystander.ts';
import { closedLoop } from './measure.ts';

export interface F2Params {
  hangMs: number;
  rounds: number;
  everyMs: number;
}

export async function runF2(design: 'naive' | 'atomvisor', p: F2Params): Promise<BystanderRound[]> {
  return design === 'naive' ? runNaive(p) : runAtomvisor(p);
}

async function runNaive(p: F2Params): Promise<BystanderRound[]> {
  const [other] = await startClients(rpcServer(), 1);
  const hung: StdioClient[] = [];
  try {
    const pool = new NaiveStdioPool();
    pool.add('other', other!);
    const bystander = async () => {
      const client = await pool.getConnection('other');
      await client.request('echo', { n: 1 });
    };
    await closedLoop(bystander, 200); // warm-up
    const rounds: BystanderRound[] = [];
    for (let r = 0; r < p.rounds; r++) {
      const [victim] = await startClients(rpcServer({ stubborn: true }), 1);
      hung.push(victim!);
      pool.add('hung', victim!);
      const slow = async () => {
        // The harness's rescue (the "operator"), so the round ends: not part of the design.
        const rescue = setTimeout(() => void victim!.kill(), p.hangMs);
        try {
          await pool.cleanupStaleConnections((key) => key === 'hung');
        } finally {
          clearTimeout(rescue);
        }
      };
      rounds.push(await bystanderRound(bystander, slow, p.everyMs, p.hangMs));
    }
    return rounds;
  } finally {
    await Promise.all([other!, ...hung].map((c) => c.kill()));
  }
}

async function runAtomvisor(p: F2Params): Promise<BystanderRound[]> {
  const coordinator = createCoordinator({
    stop: { stdinGraceMs: Math.round(p.hangMs / 2), termGraceMs: Math.round(p.hangMs / 2) },
  });
  try {
    await coordinator.register('other', rpcServer());
    const bystander = () => coordinator.request('other', 'echo', { n: 1 });
    await closedLoop(bystander, 200); // warm-up
    const rounds: BystanderRound[] = [];
    for (let r = 0; r < p.rounds; r++) {
      await coordinator.register('hung', rpcServer({ stubborn: true }));
      const slow = () => coordinator.unregister('hung', { timeoutMs: 0 });
      rounds.push(await bystanderRound(bystander, slow, p.everyMs, p.hangMs));
    }
    return rounds;
  } finally {
    await coordinator.close({ timeoutMs: 1_000 });
  }
}
