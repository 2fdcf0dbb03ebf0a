/**
 * Example: a pool of language servers (typescript-language-server, LSP framing). A language
 * server keeps per-document state, so a document is opened, hovered and diagnosed on one lease:
 * the same process throughout, and its `textDocument/publishDiagnostics` notifications reach that
 * lease's handler. The server's own requests (`workspace/configuration`,
 * `window/workDoneProgress/create`) are answered by the spec's handlers, during the start
 * handshake too.
 *
 *   npm install atomvisor tsx typescript-language-server typescript@5
 *   cp -r node_modules/atomvisor/examples . && npx tsx examples/lsp.ts
 *   npx tsx examples/lsp.ts node path/to/cli.mjs --stdio    # another server command line
 *   TSSERVER_PATH=/abs/typescript/lib/tsserver.js ...       # a TypeScript (>= 5, < 7) of your choice
 *
 * test/package/examples.test.ts runs it from the packed tarball.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createCoordinator } from 'atomvisor';

// The server's command line: this script's arguments, or the package's bin (npx puts it on PATH).
const command = process.argv[2] ?? 'typescript-language-server';
const args = process.argv[2] === undefined ? ['--stdio'] : process.argv.slice(3);

// A one-file project with a type error on its last line.
const workspace = await mkdtemp(join(tmpdir(), 'atomvisor-lsp-'));
const file = join(workspace, 'main.ts');
const text = `interface Greeting {
  text: string;
}
const greeting: Greeting = { text: 'hello' };
const count: number = greeting.text;
`;
await writeFile(file, text);
await writeFile(join(workspace, 'tsconfig.json'), '{ "compilerOptions": { "strict": true } }');
const uri = pathToFileURL(file).href;

interface Diagnostic {
  range: { start: { line: number; character: number } };
  code: number;
  message: string;
}

const coordinator = createCoordinator();
await coordinator.register(
  'typescript',
  {
    command,
    args,
    cwd: workspace,
    protocol: 'lsp', // Content-Length framing
    initialize: {
      method: 'initialize',
      params: {
        processId: process.pid,
        rootUri: pathToFileURL(workspace).href,
        initializationOptions: {
          tsserver: process.env.TSSERVER_PATH ? { path: process.env.TSSERVER_PATH } : {},
        },
        capabilities: {
          workspace: { configuration: true },
          window: { workDoneProgress: true },
          textDocument: { hover: { contentFormat: ['markdown'] }, publishDiagnostics: {} },
        },
      },
      notification: { method: 'initialized', params: {} },
    },
    onRequest: {
      // One answer per item asked (null: the defaults).
      'workspace/configuration': (params) => (params as { items: unknown[] }).items.map(() => null),
      'window/workDoneProgress/create': () => null,
    },
  },
  { replicas: 2 },
);
const pids = coordinator.snapshot('typescript').replicas.map((r) => r.pid);
console.log(`language servers ready: pids ${pids.join(', ')}`);

await coordinator.withConnection('typescript', async (lease) => {
  const diagnostics = new Promise<Diagnostic[]>((resolve) => {
    lease.onNotification('textDocument/publishDiagnostics', (params) => {
      const p = params as { uri: string; diagnostics: Diagnostic[] };
      if (p.uri === uri && p.diagnostics.length > 0) resolve(p.diagnostics); // the first is empty
    });
  });
  await lease.notify('textDocument/didOpen', {
    textDocument: { uri, languageId: 'typescript', version: 1, text },
  });
  const hover = await lease.request<{ contents: { value: string } }>('textDocument/hover', {
    textDocument: { uri },
    position: { line: 3, character: 8 }, // on `greeting`
  });
  const type = hover.contents.value.replace(/```\w*/g, '').trim(); // a markdown code block
  console.log(`replica ${lease.replica} (pid ${lease.pid}) hover: ${type}`);
  for (const d of await diagnostics)
    console.log(
      `main.ts:${d.range.start.line + 1}:${d.range.start.character + 1} TS${d.code}: ${d.message}`,
    );
});

await coordinator.close();
await rm(workspace, { recursive: true, force: true });
