/**
 * `atomvisor run --watch`: a change of the config file asks for a reload, as SIGHUP does, once the
 * file has stayed quiet for WATCH_DEBOUNCE_MS (editors write in steps). It watches the file's
 * directory, not the file: editors save by writing a new file and renaming it over the old one,
 * which a watch on the file itself would lose. A watch that cannot start, or fails later, is
 * reported (`watch-error`) and the run goes on without it.
 */
import { type FSWatcher, watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Reporter } from './log.ts';
import { describeError } from './reload.ts';

/** How long a config file must stay quiet before --watch reloads it. */
export const WATCH_DEBOUNCE_MS = 300;

/** Call `changed` after each burst of changes to `file`; returns a function that stops watching. */
export function watchConfigFile(file: string, changed: () => void, reporter: Reporter): () => void {
  const name = basename(file);
  let watcher: FSWatcher | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    watcher = watch(dirname(file), (_event, changedName) => {
      if (changedName !== null && changedName !== name) return;
      clearTimeout(timer);
      timer = setTimeout(changed, WATCH_DEBOUNCE_MS);
    });
    watcher.on('error', (error) => reporter.event('watch-error', { error: error.message }));
  } catch (error) {
    reporter.event('watch-error', { error: describeError(error) });
  }
  return () => {
    watcher?.close();
    clearTimeout(timer);
  };
}
