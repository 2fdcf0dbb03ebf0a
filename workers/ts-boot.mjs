// Starts a TypeScript worker entry from source (tests, benchmarks, `tsx` runs): loads the file
// named in workerData.__entry through tsx's namespaced loader, which works inside worker threads
// on Node 20 and 24 alike (`--import tsx` in a worker's execArgv does not work on Node 20).
// The built package never needs this: its entries are plain .js files started directly.
import { workerData } from 'node:worker_threads';
import { tsImport } from 'tsx/esm/api';

await tsImport(workerData.__entry, import.meta.url);
