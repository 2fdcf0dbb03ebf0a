/**
 * report.md: environment, the summary (the winner per workload × threads, the five failures as
 * text bars, the request path when it ran), warnings, targets (met / missed / not run; the notes
 * folded in a <details> block), suites not available, failed cases, and one table per group with
 * medians and their 95% CI.
 */

import { formatDuration } from '../progress.ts';
import type { RunResult } from '../runner.ts';
import { formatValue } from '../stats.ts';
import { textChart } from './chart.ts';
import { groupMeasurements, groupTitle, measurementWarnings } from './groups.ts';
import {
  againstText,
  failureFigures,
  requestPathComparison,
  targetCounts,
  verdicts,
  verdictText,
} from './summary.ts';
import { groupRows, verdict } from './text.ts';

const cellText = (s: string) => s.replaceAll('|', '\\|');

function mdTable(rows: string[][], leftColumns = 1): string {
  const [head, ...body] = rows;
  if (!head) return '';
  return [
    `| ${head.map(cellText).join(' | ')} |`,
    `|${head.map((_, i) => (i < leftColumns ? ' --- ' : ' ---: ')).join('|')}|`,
    ...body.map((r) => `| ${r.map(cellText).join(' | ')} |`),
  ].join('\n');
}

export function environmentLines(result: RunResult): string[] {
  const e = result.environment;
  return [
    `Node ${e.node} (V8 ${e.v8}), ${e.cores} × ${e.cpu}, ${e.os}, ${e.memoryGiB} GiB`,
    `Atomics.pause: ${e.atomicsPause ? 'yes' : 'no'}; performance.now() resolution ${e.timerResolutionNs.toFixed(0)} ns, ${e.timerCallNs.toFixed(0)} ns per call`,
    `suites: ${result.suites.map((s) => (s.status === 'ran' ? `${s.name} ${formatDuration(s.durationMs)}` : `${s.name} not run`)).join(', ')}`,
    `load average ${e.loadBefore.toFixed(2)} before, ${e.loadAfter.toFixed(2)} after; profile ${result.profile.name}, threads ${result.profile.threads.join(',')}; ${e.date}; run took ${formatDuration(result.durationMs)}`,
  ];
}

/** The summary: verdicts, the five failures as text bars, the request path (when it ran). */
export function markdownSummary(result: RunResult): string[] {
  const out: string[] = ['## Summary', '', '### Which design wins', ''];
  const { rows, threads } = verdicts(result.measurements);
  if (rows.length) {
    out.push(
      'The headline figure of each comparison, per workload and thread count: the winning design and its margin over the runner-up, or "no clear difference" when their 95% confidence intervals overlap.',
      '',
      mdTable(
        [
          ['comparison', 'workload', ...threads.map((t) => `${t} thread${t === 1 ? '' : 's'}`)],
          ...rows.map((r) => [
            `${r.suite}: ${r.metric} (${r.better} is better)`,
            r.workload,
            ...threads.map((t) => {
              const v = r.cells.get(t);
              if (!v) return '—';
              const { winner, text, clear } = verdictText(v);
              return clear
                ? `**${winner}** ${text} (${formatValue(v.winner.median, v.winner.unit)})`
                : text;
            }),
          ]),
        ],
        2 + threads.length,
      ),
    );
  } else {
    out.push('No suite comparing designs ran (shared-state, channel or pool): no verdicts.');
  }
  out.push('', '### The five failures: the naive design beside atomvisor', '');
  const figures = failureFigures(result.measurements);
  if (!figures.length) out.push('The scenarios suite did not run: no F1–F5 figures.', '');
  for (const f of figures) {
    out.push(`**${f.title}**: ${f.caption}`, '', '```text');
    out.push(f.charts.map((c) => `${c.title}, ${c.unit}\n${textChart(c)}`).join('\n\n'));
    out.push('```', '');
  }
  const rp = requestPathComparison(result.measurements);
  if (rp) {
    const designs = [...rp.baselines, ...rp.ours];
    out.push(
      '### Request path: atomvisor against the direct client and the MCP SDK',
      '',
      `Medians; after each atomvisor figure its ratio to ${rp.baselines.join(' and ') || 'the baselines'} (> 1× = better, ≈ = the 95% CIs overlap).`,
      '',
      mdTable(
        [
          ['workload', 'metric', ...designs],
          ...rp.rows.map((r) => [
            r.workload,
            `${r.metric} (${r.better} is better)`,
            ...designs.map((d) => {
              const m = r.cells.get(d);
              if (!m) return '—';
              const vs = rp.ours.includes(d)
                ? rp.baselines
                    .map((b) => againstText(m, r.cells.get(b)))
                    .filter(Boolean)
                    .join(', ')
                : '';
              return `${formatValue(m.median, m.unit)}${vs ? ` (${vs})` : ''}`;
            }),
          ]),
        ],
        2 + designs.length,
      ),
      '',
    );
  }
  return out;
}

export function markdownReport(result: RunResult): string {
  const out: string[] = ['# atomvisor benchmark report', ''];
  out.push(...environmentLines(result).map((l) => `- ${l}`), '');
  out.push(...markdownSummary(result), '');
  const warnings = [...result.environment.warnings, ...measurementWarnings(result.measurements)];
  if (warnings.length) {
    out.push('**Saturation and noise warnings**', '', ...warnings.map((w) => `- ${w}`), '');
  }
  if (result.targets.length) {
    out.push(
      `## Targets: ${targetCounts(result.targets)}`,
      '',
      mdTable(
        [
          ['result', 'suite', 'target', 'measured'],
          ...result.targets.map((t) => [verdict(t.met), t.suite, t.description, t.shown]),
        ],
        4,
      ),
    );
    const notes = result.targets.filter((t) => t.note?.trim());
    if (notes.length) {
      out.push(
        '',
        `<details><summary>Notes on ${notes.length} target${notes.length === 1 ? '' : 's'}</summary>`,
        '',
        ...notes.map((t) => `- **${t.suite} / ${t.description}**: ${t.note?.trim()}`),
        '',
        '</details>',
      );
    }
  } else {
    out.push('## Targets', '', 'No targets were judged (no suite with targets ran).');
  }
  out.push('');
  const missing = result.suites.filter((s) => s.status !== 'ran');
  if (missing.length) {
    out.push(
      '## Suites not run',
      '',
      ...missing.map((s) => `- **${s.name}**: ${s.reason ?? s.status}`),
      '',
    );
  }
  if (result.failures.length) {
    out.push('## Failed cases', '');
    for (const f of result.failures) {
      out.push(`- **${f.suite} / ${f.case}** (${f.title}): ${f.reason}`);
      if (f.stderrTail) out.push('', '```', f.stderrTail, '```', '');
    }
    out.push('');
  }
  out.push(
    '## Results',
    '',
    'Medians with their 95% confidence interval in brackets; ratios compare each design with the first design of its table at the same thread count (> 1× = better).',
    '',
  );
  let suite = '';
  for (const g of groupMeasurements(result.measurements)) {
    if (g.suite !== suite) {
      suite = g.suite;
      const s = result.suites.find((x) => x.name === suite);
      out.push(`### ${suite}`, '', s?.description ? `${s.description}\n` : '');
    }
    const first = g.cell(g.designs[0] as string, g.threads[0] as number);
    out.push(
      `**${groupTitle(g)}**${first ? `, ${first.samples} samples per cell` : ''}`,
      '',
      mdTable(groupRows(g, true)),
      '',
    );
  }
  return `${out.join('\n').replace(/\n{3,}/g, '\n\n')}\n`;
}
