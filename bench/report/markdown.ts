/**
 * report.md: environment, targets (met / missed / not run, with why), one table per group with
 * medians and their 95% CI, failures and suites that were not available.
 */

import { formatDuration } from '../progress.ts';
import type { RunResult } from '../runner.ts';
import { groupMeasurements, groupTitle, measurementWarnings } from './groups.ts';
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

export function markdownReport(result: RunResult): string {
  const out: string[] = ['# atomvisor benchmark report', ''];
  out.push(...environmentLines(result).map((l) => `- ${l}`), '');
  const warnings = [...result.environment.warnings, ...measurementWarnings(result.measurements)];
  if (warnings.length) {
    out.push('**Saturation and noise warnings**', '', ...warnings.map((w) => `- ${w}`), '');
  }
  out.push('## Targets', '');
  if (result.targets.length) {
    out.push(
      mdTable(
        [
          ['suite', 'target', 'measured', 'result', 'note'],
          ...result.targets.map((t) => [
            t.suite,
            t.description,
            t.shown,
            verdict(t.met),
            t.note ?? '',
          ]),
        ],
        5,
      ),
    );
  } else {
    out.push('No targets were judged (no suite with targets ran).');
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
