/**
 * The suite registry: the suite names in report order, and how to load one by name (or, for
 * tests, by file path). A suite whose file does not exist yet is reported as "not available" and
 * the run goes on.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { SuiteDef } from '../suite.ts';

export const SUITE_NAMES = [
  'shared-state',
  'primitives',
  'channel',
  'pool',
  'scenarios',
  'scale',
  'request-path',
] as const;

export type SuiteName = (typeof SUITE_NAMES)[number];

/** Where a suite reference points: a registered name, or a .ts/.js file path. */
export function suiteUrl(ref: string): URL {
  if (/\.[cm]?[jt]s$/.test(ref)) {
    return pathToFileURL(isAbsolute(ref) ? ref : resolve(ref));
  }
  // Match this module's own extension: .ts from source (tsx), .js from the built package.
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`./${ref}${ext}`, import.meta.url);
}

export function isKnownSuite(ref: string): boolean {
  return (SUITE_NAMES as readonly string[]).includes(ref) || /\.[cm]?[jt]s$/.test(ref);
}

export type LoadedSuite = { ok: true; suite: SuiteDef } | { ok: false; reason: string };

/** Import a suite; says why when it cannot (file missing, no `suite` export, import error). */
export async function loadSuite(ref: string): Promise<LoadedSuite> {
  const url = suiteUrl(ref);
  if (!existsSync(fileURLToPath(url))) {
    return { ok: false, reason: `not available yet (${fileURLToPath(url)} does not exist)` };
  }
  try {
    const mod = (await import(url.href)) as { suite?: SuiteDef };
    if (!mod.suite || typeof mod.suite.cases !== 'function') {
      return { ok: false, reason: `${fileURLToPath(url)} exports no \`suite: SuiteDef\`` };
    }
    return { ok: true, suite: mod.suite };
  } catch (error) {
    return { ok: false, reason: `failed to load: ${(error as Error).message}` };
  }
}
