// Interpolator build benchmark: the decode interpolator (Delaunay + Clough-Tocher + the 100x100
// grid) built cold in a fresh process, as at start-up, and warm, each next to a baseline measured
// in the same run: reading the same profile files (cold, same process), a fixed reference loop
// (warm), a bare `node -e ''` (start-up). With --scipy, also the original's scipy code on the same
// points (griddata cubic + nearest fill; needs python3 with numpy and scipy). With --compare <dist>
// (another build's dist directory, e.g. main's), that build's cold build in the same run, its
// fresh processes alternating with ours. Writes bench/results/interpolator.json.
//   npm run bench:interpolator  [-- --profile-dir config/profile --runs 15 --scipy --compare <dist>]
// Target (issue 16): cold build CPU <= scipy's and < 15 ms, every output unchanged.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadProfileDir } from '../src/profile-data/index.js';
import { benchFlag, benchNumber, referenceLoopMs } from './args.js';

const SELF = fileURLToPath(import.meta.url);
const ROOT = resolve(SELF, '../../..');
const PROFILE = resolve(benchFlag('profile-dir') ?? join(ROOT, 'config/profile'));
const COMPARE = benchFlag('compare') === undefined ? undefined : resolve(benchFlag('compare')!);
const RUNS = benchNumber('bench/interpolator', 'runs', 15, { integer: true, min: 3 });
const TARGET_CPU_MS = 15;

const cpuMs = (since?: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1000;
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface ChildResult { readCpuMs: number; buildCpuMs: number; buildWallMs: number; readyMs: number; warmMs: number; referenceMs: number }

/** In a fresh process: read the profile, build once cold, then warm builds (with the build in --dist). */
async function child(): Promise<void> {
  const dist = benchFlag('dist') ?? resolve(SELF, '../..');
  const { buildDecodeInterpolator, loadProfileDir } = (await import(pathToFileURL(join(dist, 'src/profile-data/index.js')).href)) as typeof import('../src/profile-data/index.js');
  const c0 = process.cpuUsage();
  const data = loadProfileDir(PROFILE);
  const readCpuMs = cpuMs(c0);
  const c1 = process.cpuUsage();
  const w1 = performance.now();
  buildDecodeInterpolator(data.decode);
  const buildWallMs = performance.now() - w1;
  const buildCpuMs = cpuMs(c1);
  // Process start to interpolators built (what start-up pays for them).
  const readyMs = performance.now();
  const warm = Array.from({ length: 20 }, () => {
    const t = performance.now();
    buildDecodeInterpolator(data.decode);
    return performance.now() - t;
  });
  const result: ChildResult = { readCpuMs, buildCpuMs, buildWallMs, readyMs, warmMs: median(warm), referenceMs: referenceLoopMs() };
  process.stdout.write(JSON.stringify(result));
}

function scipyCpuMs(): number | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'sla-bench-interp-'));
  const points = join(dir, 'decode.json');
  const decode = loadProfileDir(PROFILE).decode;
  writeFileSync(points, JSON.stringify(decode));
  const script = `
import json, sys, time
import numpy as np
from scipy.interpolate import griddata
d = json.load(open(sys.argv[1]))
x, y = np.array(d['kvUsage']), np.array(d['contextLength'])
times = []
for _ in range(${RUNS}):
    t = time.process_time()
    xi = np.linspace(0, 1, 100); yi = np.linspace(0, y.max(), 100)
    X, Y = np.meshgrid(xi, yi)
    for z in (d['itlMs'], d['thptPerGpu']):
        g = griddata((x, y), np.array(z), (X, Y), method='cubic')
        nan = np.isnan(g)
        g[nan] = griddata((x, y), np.array(z), (X[nan], Y[nan]), method='nearest')
    times.append((time.process_time() - t) * 1000)
print(sorted(times)[len(times) // 2])
`;
  const run = spawnSync('python3', ['-c', script, points], { encoding: 'utf8', env: { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1' } });
  if (run.status !== 0) {
    console.log(`--scipy: python3 with numpy and scipy is needed (${(run.stderr || run.error?.message || '').trim().split('\n').pop()})`);
    return undefined;
  }
  return Number(run.stdout.trim());
}

function runChild(dist?: string): ChildResult {
  const run = spawnSync(process.execPath, [SELF, '--child', '--profile-dir', PROFILE, ...(dist ? ['--dist', dist] : [])], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`child failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as ChildResult;
}

function parent(): void {
  const results: ChildResult[] = [];
  const compared: ChildResult[] = [];
  const bare: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    results.push(runChild());
    if (COMPARE) compared.push(runChild(COMPARE));
    const b0 = performance.now();
    spawnSync(process.execPath, ['-e', '']);
    bare.push(performance.now() - b0);
  }
  const m = (k: keyof ChildResult) => median(results.map((r) => r[k]));
  const row = (name: string, v: number, unit: string, base: number, baseName: string) =>
    console.log(`${name.padEnd(44)} ${v.toFixed(2).padStart(8)} ${unit.padEnd(3)} baseline ${base.toFixed(2).padStart(7)} ${unit.padEnd(3)} (${baseName}) ratio ${(v / base).toFixed(2)}x`);
  const decode = loadProfileDir(PROFILE).decode;
  console.log(`decode interpolator: ${decode.kvUsage.length} points, 100x100 grid; profile ${PROFILE}; node ${process.version}; medians of ${RUNS} fresh processes`);
  row('cold build, CPU (first build in a process)', m('buildCpuMs'), 'ms', m('readCpuMs'), 'reading the profile files, CPU');
  row('cold build, wall', m('buildWallMs'), 'ms', m('readCpuMs'), 'reading the profile files, CPU');
  row('process start to interpolator built, wall', m('readyMs'), 'ms', median(bare), "node -e '' start to exit");
  row('warm build, wall', m('warmMs'), 'ms', m('referenceMs'), 'reference loop');
  const out: Record<string, unknown> = {
    points: decode.kvUsage.length, runs: RUNS, node: process.version,
    cold_build_cpu_ms: m('buildCpuMs'), cold_build_wall_ms: m('buildWallMs'), read_profile_cpu_ms: m('readCpuMs'),
    ready_ms: m('readyMs'), bare_node_ms: median(bare), warm_build_ms: m('warmMs'), reference_loop_ms: m('referenceMs'),
  };
  if (COMPARE) {
    const c = (k: keyof ChildResult) => median(compared.map((r) => r[k]));
    row('compared build: cold build, CPU', c('buildCpuMs'), 'ms', c('readCpuMs'), 'reading the profile files, CPU');
    row('compared build: warm build, wall', c('warmMs'), 'ms', c('referenceMs'), 'reference loop');
    console.log(`this build / compared build (${COMPARE}): cold CPU ${(m('buildCpuMs') / c('buildCpuMs')).toFixed(2)}x, warm ${(m('warmMs') / c('warmMs')).toFixed(2)}x`);
    Object.assign(out, { compared_dist: COMPARE, compared_cold_build_cpu_ms: c('buildCpuMs'), compared_warm_build_ms: c('warmMs') });
  }
  let verdict = `cold build CPU < ${TARGET_CPU_MS} ms ${m('buildCpuMs') < TARGET_CPU_MS ? 'met' : 'NOT met'}`;
  if (process.argv.includes('--scipy')) {
    const scipy = scipyCpuMs();
    out.scipy_cpu_ms = scipy ?? null;
    if (scipy !== undefined) {
      row('scipy griddata (the original), CPU', scipy, 'ms', m('readCpuMs'), 'reading the profile files, CPU');
      console.log(`cold build / scipy: ${(m('buildCpuMs') / scipy).toFixed(2)}x; warm build / scipy: ${(m('warmMs') / scipy).toFixed(2)}x`);
      verdict += `; <= scipy ${m('buildCpuMs') <= scipy ? 'met' : 'NOT met'}`;
    }
  }
  console.log(`target: ${verdict}`);
  out.verdict = verdict;
  const dir = join(ROOT, 'bench/results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'interpolator.json'), `${JSON.stringify(out, null, 2)}\n`);
}

if (process.argv.includes('--child')) await child();
else parent();
