/**
 * The designs of the request-path suite, each behind one small interface: start it against the
 * echo server, send `echo` requests, close it. 'direct' is the hand-written main-thread client
 * (direct-client.ts), 'mcp-sdk' the MCP SDK's Client over its StdioClientTransport, and the
 * atomvisor designs a coordinator with 1, 2 or 4 replicas (`request()`) or one lease
 * (`lease.request()`). All of them talk to the same server (bench/fixtures/rpc-server.ts).
 */
import { createCoordinator } from '../../src/index.ts';
import { rpcServer } from '../fixtures/rpc-server.ts';
import { DirectClient } from './direct-client.ts';

export const REQUEST_DESIGNS = [
  'direct',
  'mcp-sdk',
  'atomvisor',
  'atomvisor x2',
  'atomvisor x4',
  'atomvisor lease',
] as const;
export type RequestDesign = (typeof REQUEST_DESIGNS)[number];

export interface RequestDriver {
  echo(params: Record<string, unknown>): Promise<unknown>;
  close(): Promise<void>;
}

export async function makeRequestDriver(
  design: RequestDesign,
): Promise<RequestDriver | { missing: string }> {
  const server = rpcServer();
  switch (design) {
    case 'direct': {
      const client = new DirectClient(server);
      await client.request('initialize', {});
      return {
        echo: (params) => client.request('echo', params),
        close: () => client.close(),
      };
    }
    case 'mcp-sdk':
      return mcpSdk(server.command, server.args);
    default: {
      const replicas = design === 'atomvisor x2' ? 2 : design === 'atomvisor x4' ? 4 : 1;
      const coordinator = createCoordinator({ maxInFlight: 256 });
      await coordinator.register(
        'echo',
        {
          command: server.command,
          args: server.args,
          initialize: { method: 'initialize', params: {} },
        },
        { replicas },
      );
      if (design === 'atomvisor lease') {
        const lease = await coordinator.acquire('echo');
        return {
          echo: (params) => lease.request('echo', params),
          close: async () => {
            lease.release();
            await coordinator.close();
          },
        };
      }
      return {
        echo: (params) => coordinator.request('echo', 'echo', params),
        close: () => coordinator.close(),
      };
    }
  }
}

async function mcpSdk(
  command: string,
  args: string[],
): Promise<RequestDriver | { missing: string }> {
  let sdk: {
    Client: typeof import('@modelcontextprotocol/sdk/client/index.js').Client;
    StdioClientTransport: typeof import('@modelcontextprotocol/sdk/client/stdio.js').StdioClientTransport;
    ResultSchema: typeof import('@modelcontextprotocol/sdk/types.js').ResultSchema;
  };
  try {
    const [client, stdio, types] = await Promise.all([
      import('@modelcontextprotocol/sdk/client/index.js'),
      import('@modelcontextprotocol/sdk/client/stdio.js'),
      import('@modelcontextprotocol/sdk/types.js'),
    ]);
    sdk = {
      Client: client.Client,
      StdioClientTransport: stdio.StdioClientTransport,
      ResultSchema: types.ResultSchema,
    };
  } catch (error) {
    return { missing: `@modelcontextprotocol/sdk is not installed (${(error as Error).message})` };
  }
  const transport = new sdk.StdioClientTransport({ command, args, stderr: 'ignore' });
  const client = new sdk.Client({ name: 'atomvisor-bench', version: '1.0.0' });
  await client.connect(transport);
  return {
    echo: (params) => client.request({ method: 'echo', params }, sdk.ResultSchema),
    close: () => client.close(),
  };
}
