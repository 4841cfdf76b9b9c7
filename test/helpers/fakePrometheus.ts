// A stand-in for the Prometheus HTTP API that answers every instant query with fixed per-metric
// values (for CLI and benchmark runs where a real scrape pipeline is not the point).
import { createServer, type Server } from 'node:http';
import { closeServer } from './localServer.js';

export class FakePrometheus {
  private server: Server | undefined;
  queries: string[] = [];
  /** metric-name substring → value (string, as Prometheus sends it). */
  constructor(private readonly values: Record<string, string>, private readonly labels: Record<string, string>) {}

  async start(port = 0): Promise<this> {
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const q = url.searchParams.get('query') ?? '';
      this.queries.push(q);
      const hit = Object.entries(this.values).find(([k]) => q.includes(k));
      const result = hit ? [{ metric: this.labels, value: [Date.now() / 1000, hit[1]] }] : [];
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result } }));
    });
    await new Promise<void>((r) => this.server!.listen(port, '127.0.0.1', () => r()));
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server!.address() as { port: number }).port}`;
  }

  async stop(): Promise<void> {
    await closeServer(this.server);
  }
}

/** A busy interval: values as the frontend histograms would give them. */
export const BUSY_TRAFFIC = {
  time_to_first_token: '0.12', inter_token_latency: '0.02', requests_total: '40', request_duration: '3.1', input_sequence: '3000', output_sequence: '150',
};
