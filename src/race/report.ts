/**
 * Human-readable output of race runs: one summary line per test and mode, then the details of
 * every test that saw a forbidden, interesting, unlisted or harness outcome.
 */
import type { RaceReport } from './run.ts';
import type { OutcomeRow, TestReport } from './test-report.ts';

const number = new Intl.NumberFormat('en-US');

export function fmt(n: number): string {
  return number.format(Math.round(n));
}

export function seconds(ms: number): string {
  return ms < 10
    ? `${ms.toFixed(1)} ms`
    : ms < 1000
      ? `${Math.round(ms)} ms`
      : `${(ms / 1000).toFixed(2)} s`;
}

/** `text` padded with spaces to `width` (never cut). */
export function pad(text: string, width: number): string {
  return text.length >= width ? text : text + ' '.repeat(width - text.length);
}

function padStart(text: string, width: number): string {
  return text.length >= width ? text : ' '.repeat(width - text.length) + text;
}

function verdict(t: TestReport): string {
  if (t.status === 'error') return 'ERROR';
  if (t.status === 'failed') return 'FORBIDDEN';
  return t.interesting > 0 ? 'ok (interesting)' : 'ok';
}

/** 'stress', or 'explore/<strategy>'. */
export function modeLabel(t: TestReport): string {
  return t.mode === 'explore' ? `explore/${t.strategy ?? 'pct'}` : 'stress';
}

function outcomeSummary(rows: readonly OutcomeRow[]): string {
  return [...rows]
    .sort((a, b) => b.count - a.count)
    .slice(0, 4)
    .map((r) => `${r.id} ×${fmt(r.count)}`)
    .join('  ');
}

/** The summary table. */
export function summaryTable(tests: readonly TestReport[]): string {
  const nameWidth = Math.min(60, Math.max(24, ...tests.map((t) => t.test.length)) + 2);
  const lines = [
    `${pad('test', nameWidth)}${pad('mode', 15)}${padStart('trials', 10)}${padStart('steps/s', 11)}  ${pad('result', 18)}outcomes`,
  ];
  for (const t of tests) {
    lines.push(
      `${pad(t.test, nameWidth)}${pad(modeLabel(t), 15)}${padStart(fmt(t.trials), 10)}${padStart(
        t.mode === 'explore' ? fmt(t.stepsPerSecond) : '-',
        11,
      )}  ${pad(verdict(t), 18)}${t.error ? `${t.error.name}: ${t.error.message}` : outcomeSummary(t.outcomes)}`,
    );
  }
  return lines.join('\n');
}

/** Details of the outcomes worth reading: forbidden, interesting, unlisted. */
export function details(t: TestReport): string {
  const lines: string[] = [];
  const head = `${t.test} — ${modeLabel(t)}, ${fmt(t.trials)} trials in ${seconds(t.durationMs)}${
    t.exhausted ? ' (every schedule within the preemption bound explored)' : ''
  }${t.faults ? `, faults: ${t.faults.kills} kill trials, ${t.faults.delays} delayed` : ''}`;
  lines.push(head);
  if (t.planted) lines.push(`  planted bug: ${t.planted}`);
  if (t.error) {
    lines.push(`  error ${t.error.code ?? t.error.name}: ${t.error.message}`);
    return lines.join('\n');
  }
  const rows = [...t.outcomes].sort((a, b) => {
    const rank = { forbidden: 0, interesting: 1, acceptable: 2 } as const;
    return rank[a.expect] - rank[b.expect] || b.count - a.count;
  });
  for (const r of rows) {
    lines.push(
      `  ${pad(r.expect.toUpperCase(), 12)} ${padStart(fmt(r.count), 8)}  ${r.id}${r.desc ? `  — ${r.desc}` : ''}${
        r.listed ? '' : '  (unlisted: graded by default)'
      }`,
    );
    if (r.expect === 'acceptable' && r.listed) continue;
    if (r.sample.detail) {
      for (const l of r.sample.detail.split('\n')) lines.push(`      ${l}`);
    }
    if (r.sample.trace)
      lines.push(`      first seen in trial ${r.sample.trial}; trace ${r.sample.trace}`);
  }
  if (t.firstForbidden) {
    lines.push(
      `  first forbidden outcome after ${seconds(t.firstForbidden.afterMs)} (trial ${t.firstForbidden.trial})`,
    );
    if (t.firstForbidden.replay) lines.push(`  replay it: ${t.firstForbidden.replay}`);
  }
  return lines.join('\n');
}

function worthDetail(t: TestReport): boolean {
  return t.status !== 'passed' || t.interesting > 0 || t.outcomes.some((r) => !r.listed);
}

/** The whole printed report. */
export function formatReport(report: RaceReport): string {
  const parts = [summaryTable(report.tests)];
  const detailed = report.tests.filter(worthDetail);
  if (detailed.length > 0) parts.push(detailed.map(details).join('\n\n'));
  const failed = report.tests.filter((t) => t.status === 'failed').length;
  const errors = report.tests.filter((t) => t.status === 'error').length;
  const explore = report.tests.filter((t) => t.mode === 'explore' && t.durationMs > 0);
  const steps = explore.reduce((a, t) => a + t.steps, 0);
  const ms = explore.reduce((a, t) => a + t.durationMs, 0);
  parts.push(
    `${report.tests.length} test runs: ${report.tests.length - failed - errors} ok, ${failed} with forbidden outcomes, ${errors} errors` +
      `${ms > 0 ? `; explore mode ${fmt((steps * 1000) / ms)} scheduling steps/s` : ''}; seed ${report.seed}; ${seconds(report.durationMs)}` +
      '\nExplore mode schedules Atomics calls only: plain reads and writes run inside the step before them, so races between plain accesses are not explored.',
  );
  return parts.join('\n\n');
}
