// A probe worker (piscina task module): runs one health check (exec, tcp, http, module) per task.
// The logic is src/probes/task.ts. From the built package this file runs as plain .js; from source
// piscina loads workers/probe-boot.mjs, which imports this file through tsx.
import { type ProbeOutcome, type ProbeTask, runProbe } from '../src/probes/task.ts';

export default function probe(task: ProbeTask): Promise<ProbeOutcome> {
  return runProbe(task);
}
