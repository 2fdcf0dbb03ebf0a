/**
 * report.html: one self-contained page (inline CSS and SVG; no scripts, fonts or network), read
 * top-down: a one-line header, then the summary (the winner per workload × threads, the five
 * failures as pictures, the request path against its yardsticks), then the targets with their
 * notes folded, then every group's chart with its table folded beneath it.
 *
 * Invariants: every chart comes from bench/report/chart.ts (axis rule, one colour per design for
 * the whole page); colours of text, grids and whiskers are CSS variables, so the page follows the
 * reader's dark mode and prints black on white with folded notes and tables shown.
 */
import type { RunResult } from '../runner.ts';
import { formatValue } from '../stats.ts';
import { type ChartSpec, designColours, escapeXml, NARROW, svgChart, WIDE } from './chart.ts';
import { type Group, groupMeasurements, groupTitle, measurementWarnings } from './groups.ts';
import { environmentLines } from './markdown.ts';
import {
  againstText,
  failureFigures,
  requestPathComparison,
  targetCounts,
  verdicts,
  verdictText,
} from './summary.ts';
import { groupRows, verdict } from './text.ts';

const escapeHtml = escapeXml;

function table(rows: string[][]): string {
  const [head, ...body] = rows;
  if (!head) return '';
  return `<table><thead><tr>${head.map((c) => `<th>${escapeHtml(c)}</th>`).join('')}</tr></thead><tbody>${body
    .map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

/** A group's chart: designs in the suite's order, one block of rows per thread count. */
export function groupChart(g: Group): ChartSpec {
  const several = g.threads.length > 1;
  return {
    title: groupTitle(g),
    unit: g.unit,
    better: g.better,
    sections: g.threads.map((t) => ({
      ...(several ? { heading: `${t} thread${t === 1 ? '' : 's'}` } : {}),
      bars: g.designs.flatMap((d) => {
        const m = g.cell(d, t);
        return m
          ? [
              {
                design: d,
                label: d,
                median: m.median,
                ciLow: m.ciLow,
                ciHigh: m.ciHigh,
                unit: m.unit,
              },
            ]
          : [];
      }),
    })),
  };
}

const swatch = (colour: string | undefined) =>
  `<svg class="sw" width="11" height="11" aria-hidden="true"><rect width="11" height="11" rx="2" fill="${colour ?? '#888'}"/></svg>`;

function legend(designs: readonly string[], colours: ReadonlyMap<string, string>): string {
  return `<p class="legend">${designs
    .map((d) => `<span>${swatch(colours.get(d))}${escapeHtml(d)}</span>`)
    .join('')}</p>`;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

const STYLE = `:root{--fg:#1f2328;--bg:#fff;--muted:#59636e;--grid:#d8dee4;--line:#d0d7de;--th:#f6f8fa;--met:#1a7f37;--missed:#cf222e;color-scheme:light dark}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--bg:#0d1117;--muted:#9198a1;--grid:#30363d;--line:#3d444d;--th:#161b22;--met:#3fb950;--missed:#ff7b72}}
body{font:14px/1.45 system-ui,sans-serif;margin:1em auto;max-width:1320px;padding:0 1em;color:var(--fg);background:var(--bg)}
h1{font-size:1.5em;margin:.2em 0}h2{margin:1em 0 .3em;border-bottom:1px solid var(--line)}h3{margin:.8em 0 .3em;font-size:1.1em}h4{margin:1.2em 0 .2em;font-size:1em}
.meta{margin:.2em 0;color:var(--muted)}.meta b{color:var(--fg)}.hint{margin:.2em 0 .4em;color:var(--muted)}
table{border-collapse:collapse;margin:.4em 0 .8em}td,th{border:1px solid var(--line);padding:2px 8px;text-align:right;vertical-align:top}
td:first-child,th:first-child,.text{text-align:left}th{background:var(--th)}
.met{color:var(--met)}.missed{color:var(--missed);font-weight:bold}.notrun{color:var(--muted)}
table.verdicts td,table.verdicts th,table.rp th{text-align:left}th.nowrap,td.nowrap{white-space:nowrap}table.verdicts td.tie{color:var(--muted)}.v{color:var(--muted);font-size:.9em}
.sw{vertical-align:-1px;margin-right:4px}.legend span{margin-right:14px;white-space:nowrap}
details>summary{cursor:pointer}details.suite>summary>h3{display:inline}details.note>summary{color:var(--muted);font-size:.9em}details.note{color:var(--muted)}.nowrap{white-space:nowrap}
.figs{display:grid;grid-template-columns:repeat(auto-fill,minmax(410px,1fr));gap:6px 18px}
figure{margin:.4em 0}figcaption{margin-bottom:.2em}.panel{margin-top:.3em;font-size:.9em;font-weight:600}svg{max-width:100%;height:auto}
svg text{fill:var(--fg);font:12px system-ui,sans-serif}svg .tick,svg .note{fill:var(--muted);font-size:11px}svg .sec{font-weight:600}
svg .grid{stroke:var(--grid)}svg .base{stroke:var(--muted)}svg .ci{stroke:var(--fg);fill:none}
pre{background:var(--th);padding:.5em;overflow:auto}
@media print{:root{--fg:#000;--bg:#fff;--muted:#444;--grid:#ccc;--line:#999;--th:#eee;--met:#000;--missed:#000;color-scheme:light}
body{max-width:none;margin:0;font-size:11px}figure,table,svg,tr{break-inside:avoid}h2,h3,h4{break-after:avoid}
details::details-content{content-visibility:visible;display:block}details>summary{list-style:none}}`;

function header(result: RunResult): string {
  const e = result.environment;
  const [machine, ...rest] = environmentLines(result);
  const warnings = [...e.warnings, ...measurementWarnings(result.measurements)];
  const cases = result.suites.reduce((n, s) => n + s.cases, 0);
  const failed = result.failures.length;
  const notRun = result.suites.filter((s) => s.status !== 'ran').length;
  return [
    '<header><h1>atomvisor benchmark report</h1>',
    `<p class="meta"><b>${escapeHtml(result.profile.name)} profile</b>, threads ${escapeHtml(result.profile.threads.join(','))} · ${escapeHtml(machine ?? '')} · ${escapeHtml(e.date)}</p>`,
    `<p class="meta">${plural(cases, 'case')}${failed ? `, <span class="missed">${failed} failed</span>` : ', none failed'}${notRun ? `, ${plural(notRun, 'suite')} not available` : ''} · load ${e.loadBefore.toFixed(2)} before, ${e.loadAfter.toFixed(2)} after${warnings.length ? ` · <b>${plural(warnings.length, 'noise warning')}</b>` : ''}</p>`,
    `<details><summary>environment${warnings.length ? ' and warnings' : ''}</summary><ul>${rest
      .map((l) => `<li>${escapeHtml(l)}</li>`)
      .join('')}</ul>${
      warnings.length
        ? `<p><strong>Saturation and noise warnings</strong></p><ul>${warnings.map((w) => `<li>${escapeHtml(w)}</li>`).join('')}</ul>`
        : ''
    }</details></header>`,
  ].join('\n');
}

function verdictTable(result: RunResult, colours: ReadonlyMap<string, string>): string {
  const { rows, threads } = verdicts(result.measurements);
  if (!rows.length) {
    return '<p>No suite comparing designs ran (shared-state, channel or pool): no verdicts.</p>';
  }
  const head = `<tr><th>comparison</th><th>workload</th>${threads.map((t) => `<th>${plural(t, 'thread')}</th>`).join('')}</tr>`;
  const body = rows.map((r) => {
    const cells = threads.map((t) => {
      const v = r.cells.get(t);
      if (!v) return '<td class="none">—</td>';
      const { winner, text, clear } = verdictText(v);
      const value = formatValue(v.winner.median, v.winner.unit);
      return clear
        ? `<td class="win" data-winner="${escapeHtml(winner)}">${swatch(colours.get(winner))}<b>${escapeHtml(winner)}</b> ${escapeHtml(text)} <span class="v">${escapeHtml(value)}</span></td>`
        : `<td class="tie" data-winner="${escapeHtml(winner)}">${escapeHtml(text)}</td>`;
    });
    return `<tr><td>${escapeHtml(`${r.suite}: ${r.metric}`)} <span class="v">(${escapeHtml(r.better)} is better)</span></td><td>${escapeHtml(r.workload)}</td>${cells.join('')}</tr>`;
  });
  return `<table class="verdicts"><thead>${head}</thead><tbody>${body.join('')}</tbody></table>`;
}

function failuresSection(result: RunResult, colours: ReadonlyMap<string, string>): string {
  const figures = failureFigures(result.measurements);
  if (!figures.length) return '<p>The scenarios suite did not run: no F1–F5 figures.</p>';
  return `${legend(['naive', 'atomvisor'], colours)}<div class="figs">${figures
    .map(
      (f) =>
        `<figure class="failure" id="${f.id.toLowerCase()}"><figcaption><b>${escapeHtml(f.title)}</b><br>${escapeHtml(f.caption)}</figcaption>${f.charts
          .map(
            (c) =>
              `${f.charts.length > 1 ? `<div class="panel">${escapeHtml(c.title.replace(/^F\d /, ''))}</div>` : ''}${svgChart(c, colours, NARROW)}`,
          )
          .join('')}</figure>`,
    )
    .join('')}</div>`;
}

function requestPathSection(result: RunResult, colours: ReadonlyMap<string, string>): string {
  const rp = requestPathComparison(result.measurements);
  if (!rp) return '';
  const designs = [...rp.baselines, ...rp.ours];
  const head = `<tr><th>workload</th><th>metric</th>${designs.map((d) => `<th class="nowrap">${swatch(colours.get(d))}${escapeHtml(d)}</th>`).join('')}</tr>`;
  const body = rp.rows.map((r) => {
    const cells = designs.map((d) => {
      const m = r.cells.get(d);
      if (!m) return '<td>—</td>';
      const vs = rp.ours.includes(d)
        ? rp.baselines
            .map((b) => againstText(m, r.cells.get(b)))
            .filter(Boolean)
            .map((x) => `<br><span class="v">${escapeHtml(x)}</span>`)
            .join('')
        : '';
      return `<td class="nowrap">${escapeHtml(formatValue(m.median, m.unit))}${vs}</td>`;
    });
    return `<tr><td>${escapeHtml(r.workload)}</td><td class="text">${escapeHtml(r.metric)}<br><span class="v">${escapeHtml(r.better)} is better</span></td>${cells.join('')}</tr>`;
  });
  return [
    '<h3 id="request-path">Request path: atomvisor against the direct client and the MCP SDK</h3>',
    `<p class="hint">Medians; under each atomvisor figure its ratio to ${escapeHtml(rp.baselines.join(' and ') || 'the baselines')} (&gt; 1× = better, ≈ = the 95% CIs overlap). Charts with CIs are under Results.</p>`,
    `<table class="rp"><thead>${head}</thead><tbody>${body.join('')}</tbody></table>`,
  ].join('\n');
}

function targetsSection(result: RunResult): string {
  if (!result.targets.length) {
    return '<h2 id="targets">Targets</h2><p>No targets were judged (no suite with targets ran).</p>';
  }
  return `<h2 id="targets">Targets: ${escapeHtml(targetCounts(result.targets))}</h2>
<table class="targets"><thead><tr><th class="text">result</th><th class="text">suite</th><th class="text">target</th><th>measured</th></tr></thead><tbody>${result.targets
    .map((t) => {
      const cls = t.met === 'not run' ? 'notrun' : t.met ? 'met' : 'missed';
      const note = t.note?.trim()
        ? `<details class="note"><summary>why</summary><span>${escapeHtml(t.note)}</span></details>`
        : '';
      return `<tr><td class="${cls}">${verdict(t.met)}</td><td class="text nowrap">${escapeHtml(t.suite)}</td><td class="text">${escapeHtml(t.description)}${note}</td><td>${escapeHtml(t.shown)}</td></tr>`;
    })
    .join('')}</tbody></table>`;
}

export function htmlReport(result: RunResult): string {
  const groups = groupMeasurements(result.measurements);
  const suites = [...new Set(groups.map((g) => g.suite))];
  const suiteDesigns = (suite: string) => [
    ...new Set(groups.filter((g) => g.suite === suite).flatMap((g) => g.designs)),
  ];
  // One colour per design for the whole page, distinct within a suite (its legend).
  const colours = designColours([...suites.map(suiteDesigns), ['naive', 'atomvisor']]);
  const out: string[] = [
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>atomvisor benchmark report</title>',
    `<style>${STYLE}</style></head><body>`,
    header(result),
    '<section id="summary"><h2>Summary</h2>',
    '<h3>Which design wins</h3>',
    '<p class="hint">The headline figure of each comparison, per workload and thread count: the winning design and its margin over the runner-up, or "no clear difference" when their 95% confidence intervals overlap.</p>',
    verdictTable(result, colours),
    '<h3 id="failures">The five failures: the naive design beside atomvisor</h3>',
    failuresSection(result, colours),
    requestPathSection(result, colours),
    '</section>',
    targetsSection(result),
  ];
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
    out.push('<h2 id="failed">Failed cases</h2>');
    for (const f of result.failures) {
      out.push(
        `<p><b>${escapeHtml(`${f.suite} / ${f.case}`)}</b> (${escapeHtml(f.title)}): ${escapeHtml(f.reason)}</p>`,
        f.stderrTail ? `<pre>${escapeHtml(f.stderrTail)}</pre>` : '',
      );
    }
  }
  out.push(
    '<h2 id="results">Results</h2><p class="hint">Bars are medians, whiskers the 95% confidence interval of the median. An axis is logarithmic (a gridline per decade) when a chart\'s values span more than two decades, linear from 0 otherwise; a zero is a thin stub labelled 0. Each chart\'s table (folded) has the figures and each design\'s ratio to the first design at the same thread count (&gt; 1× = better).</p>',
  );
  for (const suite of suites) {
    const mine = groups.filter((g) => g.suite === suite);
    const s = result.suites.find((x) => x.name === suite);
    const designs = suiteDesigns(suite);
    out.push(
      `<details class="suite" open><summary><h3>${escapeHtml(suite)}</h3> <span class="v">${plural(mine.length, 'chart')}</span></summary>`,
      s?.description ? `<p>${escapeHtml(s.description)}</p>` : '',
      legend(designs, colours),
    );
    for (const g of mine) {
      out.push(
        `<figure class="group"><h4>${escapeHtml(groupTitle(g))}</h4>${svgChart(groupChart(g), colours, WIDE)}`,
        `<details class="numbers"><summary>table: medians, 95% CI, ratios</summary>${table(groupRows(g, true))}</details></figure>`,
      );
    }
    out.push('</details>');
  }
  out.push('</body></html>');
  return `${out.join('\n')}\n`;
}
