#!/usr/bin/env node
/**
 * The `atomvisor` command: a thin dispatcher; each subcommand lives in its own module and is loaded
 * only when used.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const USAGE = `usage: atomvisor <command> [options]

commands:
  bench     run the benchmark suites and write the reports (bench --help)
  race      run the race harness: stress and controlled-schedule exploration (race --help)
  run       supervise the servers of a config file: live view, /metrics, probes (run --help)
  version   print the version

options:
  -h, --help  show this help`;

/** The package's version, found from src/cli (tsx) or dist/src/cli (built) alike. */
function packageVersion(): string {
  for (const up of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'atomvisor' && pkg.version) return pkg.version;
    } catch {
      // not at this level; try the next one up
    }
  }
  return 'unknown';
}

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    options: { help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
    strict: false,
  });
  const command = positionals[0];
  if (command === 'race') {
    // Before the generic --help: `atomvisor race --help` shows the race options.
    const race = await import('../race/cli.ts');
    return race.main(argv.slice(argv.indexOf('race') + 1));
  }
  if (command === 'bench') {
    // Before the generic --help too: `atomvisor bench --help` shows the bench options.
    const bench = await import('../../bench/main.ts');
    return bench.main(argv.slice(argv.indexOf('bench') + 1));
  }
  if (command === 'run') {
    // Before the generic --help too: `atomvisor run --help` shows the run options.
    const run = await import('../run/command.ts');
    return run.main(argv.slice(argv.indexOf('run') + 1));
  }
  if (values.help || command === undefined || command === 'help') {
    console.log(USAGE);
    return command === undefined && !values.help ? 2 : 0;
  }
  if (command === 'version') {
    console.log(packageVersion());
    return 0;
  }
  console.error(`atomvisor: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
  return 2;
}

process.exitCode = await main(process.argv.slice(2));
