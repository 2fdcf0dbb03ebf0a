/**
 * Importing race test files, on the main thread and in actor threads alike.
 *
 * .js / .mjs / .cjs files are imported directly: the built package needs nothing else for them.
 * .ts / .mts / .cts files are imported directly when this process already loads TypeScript (tsx,
 * vitest); otherwise through tsx's `tsImport`, resolved from the package's location (so the user's
 * own devDependency tsx is found). Without tsx, a RaceLoadError says what to do.
 */
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type RaceTest, testsOfModule } from './define.ts';
import { RaceLoadError } from './errors.ts';

const TS_FILE = /\.[mc]?tsx?$/;

/** file:// URL of a path (relative to the working directory) or URL. */
export function fileUrlOf(file: string): string {
  if (file.startsWith('file:')) return file;
  return pathToFileURL(isAbsolute(file) ? file : resolve(process.cwd(), file)).href;
}

interface TsxApi {
  tsImport(specifier: string, parent: string): Promise<unknown>;
}

let tsx: Promise<TsxApi> | undefined;

function loadTsx(url: string): Promise<TsxApi> {
  tsx ??= import('tsx/esm/api' as string).then(
    (m) => m as TsxApi,
    (cause: unknown) => {
      tsx = undefined;
      throw new RaceLoadError(
        url,
        'it is a TypeScript file and tsx is not installed here: `npm i -D tsx`, or compile the test to .js',
        { cause },
      );
    },
  );
  return tsx;
}

function isUnknownExtension(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return (
    code === 'ERR_UNKNOWN_FILE_EXTENSION' || code === 'ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING'
  );
}

/** Import a test module by path or URL. */
export async function importTestModule(file: string): Promise<unknown> {
  const url = fileUrlOf(file);
  try {
    if (!TS_FILE.test(new URL(url).pathname)) return await import(url);
    try {
      return await import(url);
    } catch (error) {
      if (!isUnknownExtension(error)) throw error;
    }
    const api = await loadTsx(url);
    return await api.tsImport(url, import.meta.url);
  } catch (error) {
    if (error instanceof RaceLoadError) throw error;
    const reason =
      (error as { code?: unknown } | null)?.code === 'ERR_MODULE_NOT_FOUND' &&
      String((error as Error).message).includes(new URL(url).pathname)
        ? 'file not found'
        : error instanceof Error
          ? `${error.name}: ${error.message}`
          : String(error);
    throw new RaceLoadError(url, reason, { cause: error });
  }
}

/** The tests a file default-exports. */
export async function loadTests(file: string): Promise<RaceTest[]> {
  const url = fileUrlOf(file);
  const mod = await importTestModule(url);
  return testsOfModule(mod, url);
}
