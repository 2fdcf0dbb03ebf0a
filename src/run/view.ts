/**
 * The live view of `atomvisor run` on a terminal: a table redrawn in place (on the alternate
 * screen, like top) with one row per replica — name, status, pid, uptime, CPU and memory (the
 * whole process group's), restarts, probe states, lease and in-flight requests, last error — and the
 * latest events below it. It only reads
 * lock-free snapshots (RunStatus), twice a second and on resize; it never waits on a connection.
 * Leaving it (shutdown) restores the screen, so what follows prints as ordinary lines.
 *
 * It fits any terminal width without wrapping a line: the header keeps the ready count and the URL
 * (a long config path loses its middle first), and the table's columns shrink, then go, before a
 * line would wrap (fitHeader, layoutTable).
 */
import type { WriteStream } from 'node:tty';
import { formatLine, type Reporter } from './log.ts';
import type { ReplicaRow, RunStatus } from './status.ts';

const ESC = '\x1b[';
const ALT_SCREEN_ON = `${ESC}?1049h`;
const ALT_SCREEN_OFF = `${ESC}?1049l`;
const CURSOR_HIDE = `${ESC}?25l`;
const CURSOR_SHOW = `${ESC}?25h`;
const HOME = `${ESC}H`;
const CLEAR_LINE = `${ESC}K`;
const CLEAR_BELOW = `${ESC}J`;

const COLUMNS = [
  'NAME',
  'STATUS',
  'PID',
  'UPTIME',
  'CPU',
  'MEM',
  'RESTARTS',
  'PROBES',
  'LEASE/IN-FLIGHT',
  'LAST ERROR',
] as const;

/** Shorter headings, used when the table is too wide for the terminal. */
const SHORT_LABELS: Partial<Record<(typeof COLUMNS)[number], string>> = {
  UPTIME: 'UP',
  RESTARTS: 'RST',
  'LEASE/IN-FLIGHT': 'LEASE/IF',
};

/** Columns given up, in this order, when even short headings do not fit (NAME, STATUS stay). */
const DROP_ORDER = [9, 8, 4, 3, 6, 5, 7, 2] as const;

/** The last column (free text) is shown only with at least this much room. */
const MIN_LAST_ERROR = 10;

/** `text` in at most `width` columns: its middle replaced by `…` when too long (a path's end stays). */
export function elideMiddle(text: string, width: number): string {
  if (text.length <= width) return text;
  if (width <= 1) return text.slice(0, Math.max(0, width));
  const tail = Math.ceil((width - 1) / 2);
  return `${text.slice(0, width - 1 - tail)}…${text.slice(text.length - tail)}`;
}

/** `text` cut to `width` columns, ending with `…` when cut. */
function cutEnd(text: string, width: number): string {
  if (text.length <= width) return text;
  return width <= 1 ? text.slice(0, Math.max(0, width)) : `${text.slice(0, width - 1)}…`;
}

/**
 * A file path in at most `width` columns: the middle of its directory part replaced by `…`, so
 * the start and the file name stay (`/srv/app/…/three-servers.config.json`); when even the name
 * does not fit, the middle of the whole path.
 */
export function elidePath(path: string, width: number): string {
  if (path.length <= width) return path;
  const slash = path.lastIndexOf('/');
  const name = slash === -1 ? path : path.slice(slash);
  const head = width - name.length - 1;
  return head >= 1 ? `${path.slice(0, head)}…${name}` : elideMiddle(path, width);
}

export interface HeaderFields {
  /** The config file (may be long: its directory loses its middle first). */
  file: string;
  pid: number;
  /** `4/4 ready`, `3/4 ready`, `SHUTTING DOWN`: always shown. */
  state: string;
  /** The endpoint's URL or `no http`: always shown. */
  url: string;
  time: string;
}

/**
 * The header line in at most `width` columns. The state and the URL always stay. First the
 * config path's directory loses its middle, then the clock goes, the separators narrow and the
 * pid goes, then the path is cut further, and last the title goes.
 */
export function fitHeader(h: HeaderFields, width: number): string {
  const title = 'atomvisor run ';
  const name = h.file.slice(h.file.lastIndexOf('/'));
  const layouts = [
    { sep: '  ·  ', pid: true, time: true },
    { sep: '  ·  ', pid: true, time: false },
    { sep: ' · ', pid: true, time: false },
    { sep: ' · ', pid: false, time: false },
  ];
  // First keep `…/NAME` visible at least (up to 40 columns of it), then 8 columns of the path.
  for (const minPath of [Math.min(h.file.length, name.length + 2, 40), 8]) {
    for (const { sep, pid, time } of layouts) {
      const rest = [...(pid ? [`pid ${h.pid}`] : []), h.state, h.url, ...(time ? [h.time] : [])];
      const fixed = rest.reduce((n, part) => n + part.length + sep.length, 0);
      const room = width - fixed - title.length;
      if (room >= Math.min(minPath, h.file.length))
        return [`${title}${elidePath(h.file, room)}`, ...rest].join(sep);
    }
  }
  return cutEnd(`${h.state} · ${h.url}`, width);
}

/**
 * The table laid out in at most `width` columns, never wrapped. LAST ERROR (free text, last) takes
 * what is left, cut; when that is too little, first the headings get shorter, then long names
 * lose their middle, then columns go: LAST ERROR, LEASE/IN-FLIGHT, CPU, UPTIME, RESTARTS, MEM,
 * PROBES, PID. NAME and STATUS always stay. Plain text: the caller colours the lines.
 */
export function layoutTable(cells: readonly (readonly string[])[], width: number): string[] {
  const header = cells[0] ?? [];
  let labels = [...header];
  const rows = cells.slice(1).map((r) => [...r]);
  let shown = labels.map((_, c) => c);
  const last = labels.length - 1;
  const natural = (c: number) =>
    Math.max(labels[c]?.length ?? 0, ...rows.map((r) => r[c]?.length ?? 0));
  const total = (cols: number[], widths: (c: number) => number) =>
    cols.reduce((n, c) => n + widths(c), 0) + 2 * Math.max(0, cols.length - 1);
  const render = (cols: number[], widths: (c: number) => number, lastWidth?: number) =>
    [labels, ...rows].map((line) =>
      cols
        .map((c, i) => {
          const cell = line[c] ?? '';
          if (i === cols.length - 1) return cutEnd(cell, lastWidth ?? natural(c));
          const w = widths(c);
          return (c === 0 ? elideMiddle(cell, w) : cutEnd(cell, w)).padEnd(w);
        })
        .join('  ')
        .trimEnd(),
    );
  let nameWidth = natural(0);
  const widths = (c: number) => (c === 0 ? Math.min(nameWidth, natural(0)) : natural(c));
  const attempt = (): string[] | undefined => {
    if (total(shown, widths) <= width) return render(shown, widths);
    if (shown.includes(last)) {
      const others = shown.filter((c) => c !== last);
      const room = width - total(others, widths) - 2;
      if (room >= MIN_LAST_ERROR) return render(shown, widths, room);
    }
    return undefined;
  };
  let fitted = attempt();
  if (fitted) return fitted;
  labels = labels.map((l) => SHORT_LABELS[l as keyof typeof SHORT_LABELS] ?? l);
  fitted = attempt();
  if (fitted) return fitted;
  // Long names lose their middle (`a-server…name#1`), down to 12 columns.
  const over =
    total(
      shown.filter((c) => c !== last),
      widths,
    ) +
    2 +
    MIN_LAST_ERROR -
    width;
  nameWidth = Math.max(Math.min(12, natural(0)), natural(0) - over);
  fitted = attempt();
  if (fitted) return fitted;
  for (const c of DROP_ORDER) {
    shown = shown.filter((x) => x !== c);
    fitted = attempt();
    if (fitted) return fitted;
  }
  return render(shown, widths).map((line) => cutEnd(line, width));
}

export function formatDuration(ms: number | undefined): string {
  if (ms === undefined || ms < 0) return '-';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, '0')}h`;
}

/** Bytes as the view shows them: 512K, 48M, 1.2G. */
export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined) return '-';
  const mb = bytes / 2 ** 20;
  if (mb < 1) return `${Math.round(bytes / 1024)}K`;
  if (mb < 1024) return `${Math.round(mb)}M`;
  return `${(mb / 1024).toFixed(1)}G`;
}

function probesText(row: ReplicaRow): string {
  const parts: string[] = [];
  for (const [name, p] of Object.entries(row.probes)) {
    const mark = p.state === 'ok' ? '✓' : p.state === 'failing' ? `✗${p.failures}` : '…';
    parts.push(`${name[0]?.toUpperCase()}${mark}`);
  }
  return parts.length === 0 ? '-' : parts.join(' ');
}

function statusText(row: ReplicaRow): string {
  return row.unready && (row.status === 'ready' || row.status === 'leased')
    ? `${row.status}(unready)`
    : row.status;
}

/** The table's cells, one array per row (the header first); plain text, no colour. */
export function tableCells(rows: readonly ReplicaRow[]): string[][] {
  return [
    [...COLUMNS],
    ...rows.map((r) => [
      r.name,
      statusText(r),
      r.uptimeMs === undefined ? '-' : String(r.pid),
      formatDuration(r.uptimeMs),
      r.cpuPercent === undefined ? '-' : `${Math.round(r.cpuPercent)}%`,
      formatBytes(r.rssBytes),
      String(r.restarts),
      probesText(r),
      `${r.leaseId === 0 ? '-' : `#${r.leaseId} ${formatDuration(r.leaseAgeMs)}`} / ${r.inFlight}`,
      r.lastError?.message ?? '',
    ]),
  ];
}

function colour(row: ReplicaRow | undefined, text: string): string {
  if (row === undefined) return `${ESC}1m${text}${ESC}0m`;
  const code = row.ready
    ? 32
    : row.status === 'failed' || row.status === 'exited'
      ? 31
      : row.status === 'starting' || row.unready
        ? 33
        : 0;
  return code === 0 ? text : `${ESC}${code}m${text}${ESC}0m`;
}

export class LiveView implements Reporter {
  readonly #out: WriteStream;
  readonly #status: RunStatus;
  readonly #header: () => HeaderFields;
  readonly #recent: string[] = [];
  readonly #onResize = () => this.render();
  #timer: NodeJS.Timeout | undefined;

  constructor(out: WriteStream, status: RunStatus, header: () => HeaderFields) {
    this.#out = out;
    this.#status = status;
    this.#header = header;
  }

  start(intervalMs = 500): void {
    this.#out.write(ALT_SCREEN_ON + CURSOR_HIDE);
    this.#out.on('resize', this.#onResize);
    this.render();
    this.#timer = setInterval(() => this.render(), intervalMs);
  }

  /** Restore the terminal. Idempotent. */
  stop(): void {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#out.off('resize', this.#onResize);
    this.#out.write(CURSOR_SHOW + ALT_SCREEN_OFF);
  }

  event(name: string, fields: object = {}): void {
    this.#recent.push(formatLine(new Date(), name, fields).slice(11)); // time of day is enough
    if (this.#recent.length > 50) this.#recent.shift();
  }

  render(): void {
    // One column short of the edge: a line ending in the last column would leave the cursor in
    // the terminal's pending-wrap state, where clearing the rest of the line eats its last cell.
    const width = Math.max(20, (this.#out.columns || 120) - 1);
    const height = this.#out.rows || 30;
    const rows = this.#status.rows();
    const table = layoutTable(tableCells(rows), width);
    const useColour = this.#out.hasColors?.() ?? false;
    const lines: string[] = [fitHeader(this.#header(), width), ''];
    table.forEach((text, i) => {
      lines.push(useColour ? colour(i === 0 ? undefined : rows[i - 1], text) : text);
    });
    const room = height - lines.length - 3;
    if (room > 0) {
      lines.push('', 'recent events:');
      for (const line of this.#recent.slice(-room)) lines.push(cutEnd(`  ${line}`, width));
    }
    this.#out.write(`${HOME}${lines.join(`${CLEAR_LINE}\n`)}${CLEAR_LINE}${CLEAR_BELOW}`);
  }
}
