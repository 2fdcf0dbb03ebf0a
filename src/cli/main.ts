#!/usr/bin/env node
/**
 * The `atomvisor` command. Subcommands land with their issues; until then they say so plainly and
 * exit non-zero, so no script mistakes a stub for a result.
 */
import { parseArgs } from 'node:util';

const USAGE = `usage: atomvisor <command> [options]

commands:
  bench     run the benchmark suite            (not yet implemented)
  race      run the race harness               (not yet implemented)
  version   print the version

options:
  -h, --help  show this help`;

const PENDING: Record<string, string> = {
  bench: 'the benchmark suite is not yet implemented in this version of atomvisor',
  race: 'the race harness is not yet implemented in this version of atomvisor',
};

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    options: { help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
    strict: false,
  });
  const command = positionals[0];
  if (values.help || command === undefined || command === 'help') {
    console.log(USAGE);
    return command === undefined && !values.help ? 2 : 0;
  }
  if (command === 'version') {
    const { createRequire } = await import('node:module');
    const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };
    console.log(pkg.version);
    return 0;
  }
  const pending = PENDING[command];
  if (pending !== undefined) {
    console.error(`atomvisor ${command}: not yet — ${pending}`);
    return 3;
  }
  console.error(`atomvisor: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
  return 2;
}

process.exitCode = await main(process.argv.slice(2));
