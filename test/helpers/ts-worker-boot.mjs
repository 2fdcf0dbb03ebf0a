// Worker bootstrap for tests: loads a TypeScript worker file through tsx's namespaced loader
// (`tsImport`), which works in worker threads on Node 20 and 24 alike. `--import tsx` in a
// worker's execArgv does not work on Node 20.
import { workerData } from 'node:worker_threads';
import { tsImport } from 'tsx/esm/api';

await tsImport(workerData.__entry, import.meta.url);
