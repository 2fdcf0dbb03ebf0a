// Removes build output portably (no rimraf dependency): node scripts/clean.mjs DIR...
import { rmSync } from 'node:fs';

for (const dir of process.argv.slice(2)) rmSync(dir, { recursive: true, force: true });
