/**
 * The built-in race suites: atomvisor's own primitives and slot table, each scenario also run
 * against the planted-bug variants (which the default run leaves out and the self-check runs).
 */
const SUITES = ['mutex', 'counter', 'seqlock', 'channel', 'frame-ring', 'table'] as const;

/** URLs of the suite files, .ts from source and .js from the built package. */
export function builtinSuiteFiles(): string[] {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  return SUITES.map((name) => new URL(`./${name}${ext}`, import.meta.url).href);
}
