/**
 * `atomvisor bench` (npm run bench): runs the benchmark suites, each case in a fresh process,
 * shows progress, prints the comparison and targets tables, and writes results.json, report.md
 * and report.html into the output folder. See docs/benchmarks.md for how to read them.
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createProgress } from './progress.ts';
import {
  comparisonTable,
  resultsJson,
  summaryText,
  targetsTable,
  writeReports,
} from './report/index.ts';
import { runBench } from './runner.ts';
import type { Profile } from './suite.ts';
import { isKnownSuite, SUITE_NAMES } from './suites/index.ts';

export const BENCH_USAGE = `usage: atomvisor bench [options]

Runs the benchmark suites (quick profile by default, about 5 minutes on 2 cores), each case in a
fresh process, and writes results.json, report.md and report.html into the output folder.

options:
  --full              the long profile (more samples, longer windows, threads 1,2,4,8)
  --suite a,b         only these suites: ${SUITE_NAMES.join(', ')}
  --threads 1,2,4     thread counts for the multi-thread cases (default 1,2,4; --full 1,2,4,8)
  --json FILE         also write the results JSON to FILE
  --out DIR           output folder (default bench-results/<date-time>)
  -h, --help          show this help`;

export class BenchUsageError extends Error {}

export interface BenchCli {
  profile: Profile;
  suites: string[];
  json?: string;
  out: string;
  help: boolean;
}

function list(flag: string, raw: string): string[] {
  const items = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (items.length === 0) throw new BenchUsageError(`${flag} needs a comma-separated list`);
  return items;
}

export function parseBenchArgs(argv: string[], now = new Date()): BenchCli {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        full: { type: 'boolean' },
        quick: { type: 'boolean' },
        suite: { type: 'string' },
        threads: { type: 'string' },
        json: { type: 'string' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        // Hidden: shrink every window and sample count (tests check the plumbing in seconds).
        scale: { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new BenchUsageError((error as Error).message);
  }
  const full = values.full === true;
  if (full && values.quick) throw new BenchUsageError('--full and --quick exclude each other');
  const suites = values.suite ? list('--suite', values.suite as string) : [...SUITE_NAMES];
  for (const s of suites) {
    if (!isKnownSuite(s)) {
      throw new BenchUsageError(
        `--suite: unknown suite ${JSON.stringify(s)} (known: ${SUITE_NAMES.join(', ')})`,
      );
    }
  }
  let threads = full ? [1, 2, 4, 8] : [1, 2, 4];
  if (values.threads !== undefined) {
    threads = list('--threads', values.threads as string).map((t) => {
      const n = Number(t);
      if (!Number.isInteger(n) || n < 1 || n > 64) {
        throw new BenchUsageError(
          `--threads: ${JSON.stringify(t)} is not a thread count from 1 to 64`,
        );
      }
      return n;
    });
    threads = [...new Set(threads)].sort((a, b) => a - b);
  }
  let scale: number | undefined;
  if (values.scale !== undefined) {
    scale = Number(values.scale);
    if (!(scale > 0 && scale <= 10)) throw new BenchUsageError('--scale: a number in (0, 10]');
  }
  for (const flag of ['json', 'out'] as const) {
    if (values[flag] === '') throw new BenchUsageError(`--${flag} needs a path`);
  }
  const stamp = now.toISOString().replace(/[:.]/g, '-').slice(0, 19);
  return {
    profile: { name: full ? 'full' : 'quick', threads, ...(scale === undefined ? {} : { scale }) },
    suites,
    ...(values.json ? { json: values.json as string } : {}),
    out: resolve((values.out as string | undefined) ?? join('bench-results', stamp)),
    help: values.help === true,
  };
}

export async function main(argv: string[]): Promise<number> {
  let cli: BenchCli;
  try {
    cli = parseBenchArgs(argv);
  } catch (error) {
    if (!(error instanceof BenchUsageError)) throw error;
    console.error(`atomvisor bench: ${error.message}\n\n${BENCH_USAGE}`);
    return 2;
  }
  if (cli.help) {
    console.log(BENCH_USAGE);
    return 0;
  }
  console.error(
    `atomvisor bench — ${cli.profile.name} profile, suites ${cli.suites.join(', ')}, threads ${cli.profile.threads.join(',')}`,
  );
  const result = await runBench({
    profile: cli.profile,
    suites: cli.suites,
    progress: createProgress(),
  });
  const summary = summaryText(result);
  console.log(
    `\n${comparisonTable(result)}\n\n${summary ? `${summary}\n\n` : ''}Targets\n${targetsTable(result)}\n`,
  );
  for (const w of result.environment.warnings) console.log(`warning: ${w}`);
  for (const s of result.suites.filter((x) => x.status !== 'ran')) {
    console.log(`suite ${s.name}: ${s.reason}`);
  }
  for (const f of result.failures) console.log(`failed: ${f.suite}/${f.case}: ${f.reason}`);
  const files = writeReports(result, cli.out);
  if (cli.json) {
    writeFileSync(cli.json, resultsJson(result));
    files.push(resolve(cli.json));
  }
  console.log(`\nwrote ${files.join(', ')}`);
  return result.failures.length > 0 ? 1 : 0;
}
