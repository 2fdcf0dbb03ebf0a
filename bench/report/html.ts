/**
 * report.html: the same content as report.md in one self-contained page — inline CSS and one
 * inline SVG bar chart per group (medians, with the 95% CI as whiskers). No scripts, no fonts, no
 * network: it opens from disk.
 */
import type { RunResult } from '../runner.ts';
import { formatValue } from '../stats.ts';
import { type Group, groupMeasurements, groupTitle, measurementWarnings } from './groups.ts';
import { environmentLines } from './markdown.ts';
import { groupRows, verdict } from './text.ts';

const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#b07aa1', '#9c755f'];

export function escapeHtml(s: string): string {
  return s
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;');
}

function table(rows: string[][]): string {
  const [head, ...body] = rows;
  if (!head) return '';
  return `<table><thead><tr>${head.map((c) => `<th>${escapeHtml(c)}</th>`).join('')}</tr></thead><tbody>${body
    .map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

/** Horizontal bars, one per (threads, design), scaled to the largest CI bound in the group. */
export function barChart(g: Group): string {
  const rows: {
    label: string;
    color: string;
    median: number;
    lo: number;
    hi: number;
    unit: string;
  }[] = [];
  for (const t of g.threads) {
    g.designs.forEach((d, i) => {
      const m = g.cell(d, t);
      if (!m) return;
      rows.push({
        label: g.threads.length > 1 ? `${d}, T=${t}` : d,
        color: PALETTE[i % PALETTE.length] as string,
        median: m.median,
        lo: m.ciLow,
        hi: m.ciHigh,
        unit: m.unit,
      });
    });
  }
  const finite = (x: number) => (Number.isFinite(x) ? x : 0);
  const max = Math.max(...rows.map((r) => Math.max(finite(r.hi), finite(r.median))), 1e-12);
  const labelW = 230;
  const barW = 360;
  const rowH = 20;
  const width = labelW + barW + 140;
  const height = rows.length * rowH + 10;
  const x = (v: number) => labelW + (Math.max(0, finite(v)) / max) * barW;
  const parts = rows.map((r, i) => {
    const y = 5 + i * rowH;
    const mid = y + rowH / 2 - 1;
    return [
      `<text x="${labelW - 6}" y="${mid + 4}" text-anchor="end">${escapeHtml(r.label)}</text>`,
      `<rect x="${labelW}" y="${y + 3}" width="${(x(r.median) - labelW).toFixed(1)}" height="${rowH - 8}" fill="${r.color}"/>`,
      `<line x1="${x(r.lo).toFixed(1)}" x2="${x(r.hi).toFixed(1)}" y1="${mid}" y2="${mid}" stroke="#222"/>`,
      `<line x1="${x(r.lo).toFixed(1)}" x2="${x(r.lo).toFixed(1)}" y1="${mid - 4}" y2="${mid + 4}" stroke="#222"/>`,
      `<line x1="${x(r.hi).toFixed(1)}" x2="${x(r.hi).toFixed(1)}" y1="${mid - 4}" y2="${mid + 4}" stroke="#222"/>`,
      `<text x="${(Math.max(x(r.hi), x(r.median)) + 6).toFixed(1)}" y="${mid + 4}">${escapeHtml(formatValue(r.median, r.unit))}</text>`,
    ].join('');
  });
  return `<svg width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeHtml(groupTitle(g))}">${parts.join('')}</svg>`;
}

const STYLE = `body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1000px;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1em}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}
td:first-child,th:first-child,td.text,th.text{text-align:left}th{background:#f3f3f3}.met{color:#1a7f37}.missed{color:#cf222e;font-weight:bold}
.notrun{color:#777}svg text{font:12px system-ui,sans-serif}pre{background:#f6f6f6;padding:.5em;overflow:auto}h3{margin-top:2em}`;

export function htmlReport(result: RunResult): string {
  const out: string[] = [];
  out.push(
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>atomvisor benchmark report</title>',
    `<style>${STYLE}</style></head><body><h1>atomvisor benchmark report</h1><ul>`,
    ...environmentLines(result).map((l) => `<li>${escapeHtml(l)}</li>`),
    '</ul>',
  );
  const warnings = [...result.environment.warnings, ...measurementWarnings(result.measurements)];
  if (warnings.length) {
    out.push(
      '<p><strong>Saturation and noise warnings</strong></p><ul>',
      ...warnings.map((w) => `<li>${escapeHtml(w)}</li>`),
      '</ul>',
    );
  }
  out.push('<h2>Targets</h2>');
  out.push(
    `<table><thead><tr><th>suite</th><th class="text">target</th><th>measured</th><th>result</th><th class="text">note</th></tr></thead><tbody>${result.targets
      .map((t) => {
        const cls = t.met === 'not run' ? 'notrun' : t.met ? 'met' : 'missed';
        return `<tr><td>${escapeHtml(t.suite)}</td><td class="text">${escapeHtml(t.description)}</td><td>${escapeHtml(t.shown)}</td><td class="${cls}">${verdict(t.met)}</td><td class="text">${escapeHtml(t.note ?? '')}</td></tr>`;
      })
      .join('')}</tbody></table>`,
  );
  const missing = result.suites.filter((s) => s.status !== 'ran');
  if (missing.length) {
    out.push(
      '<h2>Suites not run</h2><ul>',
      ...missing.map(
        (s) => `<li><b>${escapeHtml(s.name)}</b>: ${escapeHtml(s.reason ?? s.status)}</li>`,
      ),
      '</ul>',
    );
  }
  if (result.failures.length) {
    out.push('<h2>Failed cases</h2>');
    for (const f of result.failures) {
      out.push(
        `<p><b>${escapeHtml(`${f.suite} / ${f.case}`)}</b> (${escapeHtml(f.title)}): ${escapeHtml(f.reason)}</p>`,
        f.stderrTail ? `<pre>${escapeHtml(f.stderrTail)}</pre>` : '',
      );
    }
  }
  out.push(
    '<h2>Results</h2><p>Bars are medians; whiskers the 95% confidence interval of the median. Ratios compare each design with the first design of its table at the same thread count (&gt; 1× = better).</p>',
  );
  let suite = '';
  for (const g of groupMeasurements(result.measurements)) {
    if (g.suite !== suite) {
      suite = g.suite;
      const s = result.suites.find((x) => x.name === suite);
      out.push(
        `<h3>${escapeHtml(suite)}</h3>`,
        s?.description ? `<p>${escapeHtml(s.description)}</p>` : '',
      );
    }
    out.push(`<h4>${escapeHtml(groupTitle(g))}</h4>`, barChart(g), table(groupRows(g, true)));
  }
  out.push('</body></html>');
  return `${out.join('\n')}\n`;
}
