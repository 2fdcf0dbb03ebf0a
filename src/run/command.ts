/**
 * `atomvisor run [CONFIG]`, the entry: the flags (flags.ts), then the whole config is checked
 * before anything starts — a broken one starts nothing (exit 2) — and the log directory must be
 * writable (exit 1); --help, --print-schema and --check stop there. Then session.ts runs it: the
 * order of the start, the reloads and the shutdown is told there.
 */
import { access, constants } from 'node:fs/promises';
import { ConfigError } from '../errors.ts';
import { loadConfig, type RunConfig } from './config.ts';
import { checkLogNames, logsOf, parseFlags, RUN_USAGE, type RunFlags } from './flags.ts';
import { makeDirectory } from './log-files.ts';
import { configJsonSchema } from './schema.ts';
import { run } from './session.ts';

export async function main(argv: string[]): Promise<number> {
  let flags: RunFlags | 'help';
  try {
    flags = parseFlags(argv);
  } catch (error) {
    console.error(`atomvisor run: ${(error as Error).message}\n\n${RUN_USAGE}`);
    return 2;
  }
  if (flags === 'help') {
    console.log(RUN_USAGE);
    return 0;
  }
  if (flags.printSchema) {
    console.log(JSON.stringify(configJsonSchema(), null, 2));
    return 0;
  }
  let config: RunConfig;
  try {
    config = await loadConfig(flags.configFile);
    checkLogNames(config, flags);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    return 2;
  }
  if (flags.check) {
    console.log(`${config.file}: ok (${config.servers.length} servers)`);
    return 0;
  }
  const logs = logsOf(config, flags);
  if (logs !== undefined) {
    try {
      await makeDirectory(logs.dir);
      await access(logs.dir, constants.W_OK);
    } catch (error) {
      console.error(
        `${config.file}: logs.dir: cannot write to ${logs.dir}: ${(error as Error).message}`,
      );
      return 1;
    }
  }
  return run(config, flags);
}
