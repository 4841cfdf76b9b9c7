// Mocker benchmark: how many concurrent streams and tokens/s one mocker process sustains on this
// machine with its streamed timing still true to the model (client-measured ITL within 5% of the
// ITL the engine model gave the same requests), and where it saturates. Each level is a closed loop
// of N clients (one open stream each, a new request when one ends); the baseline, measured in the
// same run, is the same mocker with one client: figures are ratios against N times its tokens/s.
// Soak mode (--soak <s>): N clients (--soak-streams, default 64) keep streams open for <s> seconds,
// every fourth one hanging up after its first token (the engine aborts it); the mocker's RSS is
// sampled every 10 s and reported as first/last/max and a least-squares slope after a 1-minute
// warm-up, written to bench/results/mocker-soak.json.
// Usage: npm run bench:mocker [-- --window-s 8] [-- --levels 1,32,64,128,256,512] [-- --soak 600]
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { httpRequest } from '../src/net/http.js';
import { parsePromText } from '../src/observe/promtext.js';
import { benchFlag, benchNumber } from './args.js';
import { freePort } from './procs.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
const CLI = join(ROOT, 'dist/src/cli.js');
const PROFILE = resolve(ROOT, 'test/fixtures/h100/llama-3.1-8b/npz');
const CLK_TCK = 100;
const WINDOW_S = benchNumber('bench/mocker', 'window-s', 8, { min: 1 });
const LEVELS = (benchFlag('levels') ?? '1,32,64,128,256,512').split(',').map(Number);
if (LEVELS.some((n) => !Number.isInteger(n) || n < 1 || n > 20_000)) {
  process.stderr.write('bench/mocker: --levels must be a comma-separated list of whole numbers from 1 to 20000.\n');
  process.exit(2);
}
const SOAK_S = benchFlag('soak') === undefined ? 0 : benchNumber('bench/mocker', 'soak', 600, { min: 20 });
const SOAK_STREAMS = benchNumber('bench/mocker', 'soak-streams', 64, { integer: true, min: 1 });
const SOAK_SAMPLE_S = 10;
const SOAK_WARMUP_S = 60;
// Enough prefill engines that prefill never queues at the highest level (128-token prompts).
const PREFILL = 64;
const DECODE = 16;
const TOKEN_MARK = '"text":" tok"';
const ISL = 128;
const OSL = 256;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cpuSeconds = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
};
const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;

/** The model's ITL (sum, count) as the mocker's frontend histogram holds it. */
async function modelItl(url: string): Promise<{ sum: number; count: number }> {
  const samples = parsePromText((await httpRequest(`${url}/metrics`, { timeoutMs: 120_000, maxBytes: 64 << 20 })).body);
  const get = (n: string) => samples.find((s) => s.name === n)?.value ?? 0;
  return { sum: get('dynamo_frontend_inter_token_latency_seconds_sum'), count: get('dynamo_frontend_inter_token_latency_seconds_count') };
}

interface Level { errors: number; error_kinds: Record<string, number>; streams: number; tokens_per_s: number; client_itl_ms: number; model_itl_ms: number; itl_error: number; mocker_cpu: number; mocker_rss_mb: number; scaling_vs_baseline: number }

async function level(url: string, pid: number, n: number): Promise<Omit<Level, 'scaling_vs_baseline'>> {
  let stop = false;
  let tokens = 0;
  let gapSum = 0;
  let gaps = 0;
  let measuring = false;
  let errors = 0;
  const errorKinds: Record<string, number> = {};
  const body = JSON.stringify({ prompt_tokens: ISL, max_tokens: OSL, stream: true });
  const client = async () => {
    while (!stop) {
      let first = 0, last = 0, seen = 0;
      // The client must cost less than the server it measures: count token events by their text
      // (the mock's every token reads " tok") instead of parsing each event's JSON.
      let tail = '';
      await httpRequest(`${url}/v1/completions`, {
        method: 'POST', body, headers: { 'content-type': 'application/json' }, timeoutMs: 600_000, maxBytes: 64 << 20, connections: 20_000,
        onChunk: (c) => {
          const now = performance.now();
          const text = tail + c.toString('latin1');
          let k = 0;
          for (let i = text.indexOf(TOKEN_MARK); i >= 0; i = text.indexOf(TOKEN_MARK, i + TOKEN_MARK.length)) k++;
          tail = text.slice(-(TOKEN_MARK.length - 1));
          if (k === 0) return;
          if (first === 0) first = now;
          last = now;
          seen += k;
          if (measuring) tokens += k;
        },
      }).catch((err: Error & { kind?: string }) => {
        errors++;
        const kind = `${err.kind ?? 'error'}: ${err.message.replace(/^.*?: /, '').slice(0, 60)}`;
        errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
        seen = 0;
      });
      // Only requests that finished inside the window count toward the ITL comparison (as the histogram's increase).
      if (measuring && seen > 1) {
        gapSum += last - first;
        gaps += seen - 1;
      }
    }
  };
  // Clients open their connections over a second, as a fleet of users would, not in one SYN burst.
  const clients = Array.from({ length: n }, (_, i) => sleep((1000 * i) / n).then(client));
  // Warm up: every client has a stream open and the batch has reached its steady size.
  await sleep(Math.max(2000, 3 * 1000));
  const m0 = await modelItl(url);
  const c0 = cpuSeconds(pid);
  const t0 = performance.now();
  measuring = true;
  await sleep(WINDOW_S * 1000);
  measuring = false;
  const elapsedS = (performance.now() - t0) / 1000;
  const c1 = cpuSeconds(pid);
  const m1 = await modelItl(url);
  const rss = rssMb(pid);
  stop = true;
  await Promise.all(clients);
  const clientItl = gaps > 0 ? gapSum / gaps : NaN;
  const modelItlMs = m1.count > m0.count ? ((m1.sum - m0.sum) / (m1.count - m0.count)) * 1000 : NaN;
  return {
    streams: n, tokens_per_s: tokens / elapsedS, client_itl_ms: clientItl, model_itl_ms: modelItlMs, itl_error: clientItl / modelItlMs - 1,
    mocker_cpu: (c1 - c0) / elapsedS, mocker_rss_mb: rss, errors, error_kinds: errorKinds,
  };
}

/** Least-squares slope of y over x (per unit of x). */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, x) => a + x, 0) / n;
  const my = ys.reduce((a, y) => a + y, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den > 0 ? num / den : NaN;
}

async function soak(url: string, pid: number): Promise<Record<string, unknown>> {
  let stop = false;
  let sent = 0;
  let completed = 0;
  let hungUp = 0;
  let errors = 0;
  const body = JSON.stringify({ prompt_tokens: ISL, max_tokens: OSL, stream: true });
  const client = async () => {
    while (!stop) {
      const hangUp = ++sent % 4 === 0;
      const ctl = new AbortController();
      await httpRequest(`${url}/v1/completions`, {
        method: 'POST', body, headers: { 'content-type': 'application/json' }, timeoutMs: 600_000, maxBytes: 64 << 20, connections: 20_000, signal: ctl.signal,
        onChunk: () => { if (hangUp && !ctl.signal.aborted) ctl.abort(); },
      }).then(() => { completed++; }, () => { if (hangUp) hungUp++; else errors++; });
    }
  };
  const clients = Array.from({ length: SOAK_STREAMS }, (_, i) => sleep((1000 * i) / SOAK_STREAMS).then(client));
  const samples: Array<{ t_s: number; rss_mb: number }> = [];
  const t0 = performance.now();
  for (;;) {
    const t = (performance.now() - t0) / 1000;
    samples.push({ t_s: Math.round(t), rss_mb: +rssMb(pid).toFixed(1) });
    process.stderr.write(`soak ${Math.round(t)} s: RSS ${samples.at(-1)!.rss_mb} MB, ${completed} completed, ${hungUp} hung up\n`);
    if (t >= SOAK_S) break;
    await sleep(Math.min(SOAK_SAMPLE_S * 1000, (SOAK_S - t) * 1000 + 1));
  }
  stop = true;
  await Promise.all(clients);
  await sleep(1000);
  const metrics = parsePromText((await httpRequest(`${url}/metrics`, { timeoutMs: 60_000, maxBytes: 64 << 20 })).body);
  const health = JSON.parse((await httpRequest(`${url}/health`, { timeoutMs: 10_000, maxBytes: 4096 })).body) as { in_flight: number };
  const steady = samples.filter((x) => x.t_s >= SOAK_WARMUP_S);
  const rss = samples.map((x) => x.rss_mb);
  return {
    soak_s: SOAK_S, streams: SOAK_STREAMS, isl: ISL, osl: OSL, sample_every_s: SOAK_SAMPLE_S,
    requests_completed: completed, requests_hung_up: hungUp, errors,
    mocker_aborted_requests_total: metrics.find((x) => x.name === 'sla_mocker_aborted_requests_total')?.value ?? null,
    in_flight_after: health.in_flight,
    rss_mb: { first: rss[0], last: rss.at(-1), max: Math.max(...rss), after_warmup_first: steady[0]?.rss_mb ?? null },
    rss_slope_mb_per_min_after_warmup: steady.length >= 3 ? +(60 * slope(steady.map((x) => x.t_s), steady.map((x) => x.rss_mb))).toFixed(3) : null,
    samples,
  };
}

async function main(): Promise<void> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // Enough engines that prefill never queues: the load is the decode batches and the token stream.
  const child = spawn(process.execPath, [CLI, 'mocker', '--profile-dir', PROFILE, '--port', String(port), '--prefill', String(PREFILL), '--decode', String(DECODE), '--max-in-flight', '50000'], { stdio: ['ignore', 'ignore', 'inherit'] });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => { child.kill('SIGTERM'); process.exit(1); });
  try {
    for (let i = 0; i < 100; i++) {
      try {
        if ((await httpRequest(`${url}/health`, { timeoutMs: 500, maxBytes: 4096 })).status === 200) break;
      } catch { /* starting */ }
      await sleep(100);
    }
    if (SOAK_S > 0) {
      const out = await soak(url, child.pid!);
      mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
      writeFileSync(join(ROOT, 'bench/results/mocker-soak.json'), JSON.stringify(out, null, 2) + '\n');
      process.stdout.write(JSON.stringify({ ...out, samples: undefined }, null, 2) + '\n');
      return;
    }
    const rows: Level[] = [];
    let baselinePerStream = NaN;
    for (const n of LEVELS) {
      const r = await level(url, child.pid!, n);
      if (rows.length === 0) baselinePerStream = r.tokens_per_s / r.streams;
      rows.push({ ...r, scaling_vs_baseline: r.tokens_per_s / (baselinePerStream * n) });
      process.stderr.write(`${n} streams: ${r.tokens_per_s.toFixed(0)} tok/s, ITL client ${r.client_itl_ms.toFixed(2)} ms vs model ${r.model_itl_ms.toFixed(2)} ms (${(r.itl_error * 100).toFixed(1)}%), mocker CPU ${(r.mocker_cpu * 100).toFixed(0)}%, ${r.errors} errors\n`);
    }
    const within = rows.filter((r) => Math.abs(r.itl_error) <= 0.05);
    const best = within.reduce<Level | null>((a, r) => (a === null || r.tokens_per_s > a.tokens_per_s ? r : a), null);
    const saturated = rows.find((r) => Math.abs(r.itl_error) > 0.05 || r.mocker_cpu > 0.9 || r.errors > 0) ?? null;
    const out = {
      window_s: WINDOW_S, isl: ISL, osl: OSL, workers: { prefill: PREFILL, decode: DECODE }, levels: rows,
      sustained_within_5pct: best && { streams: best.streams, tokens_per_s: best.tokens_per_s, itl_error: best.itl_error, tokens_per_s_vs_baseline: best.tokens_per_s / rows[0].tokens_per_s },
      saturates_at_streams: saturated?.streams ?? null,
    };
    process.stdout.write(JSON.stringify(out, null, 2) + '\n');
  } finally {
    child.kill('SIGTERM');
  }
}

main().catch((err) => {
  process.stderr.write(`bench/mocker: ${(err as Error).message}\n`);
  process.exit(1);
});
