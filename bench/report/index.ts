/** Write a run's results.json, report.md and report.html into one folder. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunResult } from '../runner.ts';
import { htmlReport } from './html.ts';
import { markdownReport } from './markdown.ts';

export { comparisonTable, summaryText, targetsTable } from './text.ts';

/**
 * JSON with non-finite numbers (NaN medians of cases that did not run) kept readable as null.
 * Every measurement also carries the short form of the environment it was measured in (Node, V8,
 * CPU, cores, OS, run date), so one row copied out of the file still says where it came from;
 * the full record (timer resolution, load, Atomics.pause…) is the top-level `environment`.
 */
export function resultsJson(result: RunResult): string {
  const { node, v8, cpu, cores, os, date } = result.environment;
  const environment = { node, v8, cpu, cores, os, date };
  const withEnvironment = {
    ...result,
    measurements: result.measurements.map((m) => ({ ...m, environment })),
  };
  return `${JSON.stringify(withEnvironment, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`;
}

export function writeReports(result: RunResult, dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  const files = [
    [join(dir, 'results.json'), resultsJson(result)],
    [join(dir, 'report.md'), markdownReport(result)],
    [join(dir, 'report.html'), htmlReport(result)],
  ] as const;
  for (const [file, text] of files) writeFileSync(file, text);
  return files.map(([file]) => file);
}
