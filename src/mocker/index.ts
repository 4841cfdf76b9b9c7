// Start and stop a mocker: the engine pool, its HTTP frontend, and (optionally) the fleet loop that
// obeys the planner through etcd. Used by `sla-planner mocker`, the closed-loop test and the bench.
import type { AddressInfo } from 'node:net';
import { InputError } from '../util/errors.js';
import type { EtcdJson } from '../actuate/etcd.js';
import type { Backend, Mode } from '../config/schema.js';
import type { EngineLatencyModel, PoolCounts } from '../sim/types.js';
import { DEFAULT_TICK_MS, MockerHost } from './host.js';
import { VirtualFleet } from './fleet.js';
import { createMockServer } from './server.js';

export { MockerHost } from './host.js';
export { VirtualFleet } from './fleet.js';
export { createMockServer } from './server.js';

export const MOCKER_DEFAULTS = {
  host: '127.0.0.1',
  port: 8000,
  model: 'mock-model',
  pollMs: 1000,
  maxWorkers: 64,
  maxOutputTokens: 32_768,
  maxPromptTokens: 1_048_576,
  maxInFlight: 4096,
  tickMs: DEFAULT_TICK_MS,
} as const;

export interface MockerOptions {
  model: EngineLatencyModel;
  mode: Mode;
  host: string;
  port: number;
  modelName: string;
  initial: PoolCounts;
  coldStartS: number;
  gpusPerReplica: PoolCounts;
  maxNumSeqs?: number;
  kvWatermark?: number;
  maxOutputTokens: number;
  maxPromptTokens: number;
  maxInFlight: number;
  tickMs: number;
  fleet?: { etcd: EtcdJson; dynamoNamespace: string; backend?: Backend; pollMs: number; maxWorkers: number };
  log?: (line: string) => void;
}

export interface RunningMocker {
  url: string;
  port: number;
  host: MockerHost;
  fleet: VirtualFleet | undefined;
  stop(): Promise<void>;
}

export async function startMocker(o: MockerOptions): Promise<RunningMocker> {
  const host = new MockerHost(o.model, {
    mode: o.mode, initial: o.initial, coldStartS: o.coldStartS, gpusPerReplica: o.gpusPerReplica, modelName: o.modelName,
    maxInFlight: o.maxInFlight, tickMs: o.tickMs, maxNumSeqs: o.maxNumSeqs, kvWatermark: o.kvWatermark,
  });
  const server = createMockServer(host, { limits: { maxOutputTokens: o.maxOutputTokens, maxPromptTokens: o.maxPromptTokens, model: o.modelName } });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      host.stop();
      if (err.code === 'EADDRINUSE') reject(new InputError(`--port: ${o.host}:${o.port} is already in use; pick another port (0 picks a free one).`));
      else if (err.code === 'EADDRNOTAVAIL' || err.code === 'EACCES') reject(new InputError(`--host/--port: cannot listen on ${o.host}:${o.port} (${err.code}); give an address of this machine and a port you may use.`));
      else reject(err);
    });
    // A deep accept queue: a load generator opening a thousand streams at once is not reset.
    server.listen({ port: o.port, host: o.host, backlog: 4096 }, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const fleet = o.fleet ? new VirtualFleet(host, {
    etcd: o.fleet.etcd, dynamoNamespace: o.fleet.dynamoNamespace, backend: o.fleet.backend,
    // Three missed polls before the registrations lapse, and never under 10 s.
    leaseTtlS: Math.max(10, Math.ceil((3 * o.fleet.pollMs) / 1000)), maxWorkers: o.fleet.maxWorkers, log: o.log }) : undefined;
  let timer: NodeJS.Timeout | undefined;
  if (fleet) {
    void fleet.poll();
    timer = setInterval(() => void fleet.poll(), o.fleet!.pollMs);
  }
  return {
    url: `http://${o.host.includes(':') ? `[${o.host}]` : o.host}:${port}`,
    port,
    host,
    fleet,
    async stop() {
      if (timer) clearInterval(timer);
      await fleet?.close();
      host.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
