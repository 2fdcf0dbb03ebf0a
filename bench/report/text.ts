/**
 * What a run prints at its end (plain text, fixed width): the comparison tables, the summary
 * (verdicts and the five failures in one line each) and the targets table. Rows: thread counts (or designs, when a group has only one thread count); columns:
 * designs side by side with their ratio against the group's first design.
 */
import type { RunResult } from '../runner.ts';
import { formatBound, formatValue } from '../stats.ts';
import { formatRatio, type Group, groupMeasurements, groupTitle } from './groups.ts';
import { failureFigures, verdicts, verdictText } from './summary.ts';

/** Fixed-width columns; the first `leftColumns` are left-aligned (text), the rest right (numbers). */
function pad(rows: string[][], leftColumns = 1): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((c, i) => {
      widths[i] = Math.max(widths[i] ?? 0, c.length);
    });
  }
  return rows
    .map((row) =>
      row
        .map((c, i) => (i < leftColumns ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function groupRows(g: Group, withCi: boolean): string[][] {
  const value = (design: string, t: number): string => {
    const m = g.cell(design, t);
    if (!m) return '—';
    const ci = withCi
      ? ` [${formatBound(m.ciLow, m.unit)} – ${formatBound(m.ciHigh, m.unit)}]`
      : '';
    return `${formatValue(m.median, m.unit)}${ci}`;
  };
  if (g.threads.length === 1) {
    const t = g.threads[0] as number;
    const rows = [['design', `T=${t}`, `vs ${g.baseline}`]];
    for (const d of g.designs) {
      rows.push([d, value(d, t), d === g.baseline ? '1×' : formatRatio(g.ratio(d, t))]);
    }
    return rows;
  }
  const rows = [['threads', ...g.designs]];
  for (const t of g.threads) {
    rows.push([
      String(t),
      ...g.designs.map((d) => {
        const r = d === g.baseline ? '' : formatRatio(g.ratio(d, t));
        return r ? `${value(d, t)} (${r})` : value(d, t);
      }),
    ]);
  }
  return rows;
}

export function comparisonTable(result: RunResult): string {
  const parts: string[] = [];
  for (const g of groupMeasurements(result.measurements)) {
    parts.push(`${groupTitle(g)}\n${indent(pad(groupRows(g, false)))}`);
  }
  return parts.join('\n\n');
}

/** The verdicts (winner per workload × threads) and one line per failure F1–F5, for the terminal. */
export function summaryText(result: RunResult): string {
  const { rows, threads } = verdicts(result.measurements);
  const parts: string[] = [];
  if (rows.length) {
    // One line per (comparison, thread count): a terminal is narrower than a table of them.
    const lines = rows.flatMap((r) =>
      threads.flatMap((t) => {
        const v = r.cells.get(t);
        if (!v) return [];
        const { winner, text, clear } = verdictText(v);
        return [
          [`${r.suite}: ${r.metric}, ${r.workload}`, `T=${t}`, clear ? `${winner}, ${text}` : text],
        ];
      }),
    );
    parts.push(
      `Which design wins (margin over the runner-up; "no clear difference" = the 95% CIs overlap)\n${indent(pad(lines, 3))}`,
    );
  }
  const figures = failureFigures(result.measurements);
  if (figures.length) {
    parts.push(
      `The five failures, naive vs atomvisor\n${figures.map((f) => `  ${f.title}\n    ${f.caption}`).join('\n')}`,
    );
  }
  return parts.join('\n\n');
}

export function targetsTable(result: RunResult): string {
  // One line per target (descriptions are long): verdict, suite, what, measured; then the notes.
  const rows = result.targets.map((t) => [verdict(t.met), t.suite, `${t.description}: ${t.shown}`]);
  const notes = result.targets.filter((t) => t.note).map((t) => `  ${t.suite}/${t.id}: ${t.note}`);
  if (rows.length === 0) return '  (no targets judged)';
  return `${indent(pad(rows, 3))}${notes.length ? `\n\nnotes:\n${notes.join('\n')}` : ''}`;
}

export function verdict(met: boolean | 'not run'): string {
  return met === 'not run' ? 'not run' : met ? 'met' : 'MISSED';
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}
