// piscina task module for runs from TypeScript source (tests, tsx): imports workers/probe-worker.ts
// through tsx's namespaced loader (works in worker threads on Node 20 and 24) and re-exports its
// handler. The built package never needs this: piscina loads dist/workers/probe-worker.js itself.
import { tsImport } from 'tsx/esm/api';

const mod = await tsImport(new URL('./probe-worker.ts', import.meta.url).href, import.meta.url);
export default mod.default;
