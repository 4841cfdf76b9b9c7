// Rewrites the rows of the README's benchmark table that come from a benchmark's saved results
// (bench/results/*.json, written by bench:interpolator, bench:daemon, bench:predict, bench:sim),
// each figure next to the baseline measured in the same run. Other rows and the rest of the README
// are left as they are; a results file that is missing leaves its row as it is.
//   npm run bench:readme            (after the benchmarks; --check exits 1 if the README is stale)
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
const README = join(ROOT, 'README.md');
const SECTION = '## Benchmarks';

type Json = Record<string, any>;

function results(name: string): Json | undefined {
  const path = join(ROOT, 'bench/results', `${name}.json`);
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as Json) : undefined;
}

const f1 = (v: number) => v.toFixed(1);
const f2 = (v: number) => v.toFixed(2);
const met = (ok: boolean) => (ok ? 'met' : 'NOT met');

function interpolatorRow(r: Json): string {
  const parts = [
    `decode grid (${r.points} points, 100x100) cold build ${f1(r.cold_build_cpu_ms)} ms CPU, ${f2(r.cold_build_cpu_ms / r.read_profile_cpu_ms)}x reading the profile files (${f1(r.read_profile_cpu_ms)} ms); warm ${f1(r.warm_build_ms)} ms, ${f2(r.warm_build_ms / r.reference_loop_ms)}x the reference loop`,
  ];
  if (r.compared_cold_build_cpu_ms !== undefined) parts.push(`before (main): cold ${f1(r.compared_cold_build_cpu_ms)} ms CPU, after / before ${f2(r.cold_build_cpu_ms / r.compared_cold_build_cpu_ms)}x`);
  if (typeof r.scipy_cpu_ms === 'number') parts.push(`scipy griddata (the original) ${f1(r.scipy_cpu_ms)} ms CPU, ours ${f2(r.cold_build_cpu_ms / r.scipy_cpu_ms)}x it`);
  parts.push(`target (< 15 ms and <= scipy): ${r.verdict}`);
  return `| \`npm run bench:interpolator\` | decode-interpolator build, cold (fresh process) and warm, medians of ${r.runs} processes (\`-- --scipy --compare <other dist>\`) | ${parts.join('; ')} |`;
}

function daemonRow(r: Json): string {
  const b = r.baseline;
  const where = (m: Json) => (m.rss_parts_mb ? ` (node executable ${f1(m.rss_parts_mb.node_binary)}, anonymous ${f1(m.rss_parts_mb.anonymous)}, malloc heap ${f1(m.rss_parts_mb.malloc_heap)})` : '');
  const idle = (label: string, m: Json) =>
    `${label}: RSS ${f1(m.rss_mb)} MB (${f2(m.rss_mb / b.rss_mb)}x)${where(m)}, peak ${f1(m.peak_rss_mb)} MB, CPU ${f2(m.cpu_ms_per_s)} ms/s`;
  const parts = [
    `baseline a bare node HTTP server: RSS ${f1(b.rss_mb)} MB${where(b)}, CPU ${f2(b.cpu_ms_per_s)} ms/s`,
    idle(`idle virtual at ${r.idle_s} s (CPU over the next ${r.window_s} s${r.repeat > 1 ? `; medians of ${r.repeat} daemons, as the before build` : ''})`, r.idle),
    idle('kubernetes', r.idle_kubernetes),
  ];
  if (r.compared_idle) parts.push(`${idle('before (main), virtual', r.compared_idle)}; after / before: RSS ${f2(r.idle.rss_mb / r.compared_idle.rss_mb)}x, CPU ${f2(r.idle.cpu_ms_per_s / Math.max(r.compared_idle.cpu_ms_per_s, 0.05))}x`);
  if (r.busy) parts.push(`busy (ticks every 1-2 s, 10 router scrapes per load tick): ${f1(r.busy.cpu_ms_per_tick)} ms CPU per tick`);
  parts.push(`targets: RSS < 60 MB ${met(r.idle.rss_mb < 60)}, CPU < 1 ms/s ${met(r.idle.cpu_ms_per_s < 1)}`);
  return `| \`npm run bench:daemon\` | idle daemon RSS and CPU with default node flags, virtual and kubernetes environments; busy CPU per tick (\`-- --compare <other cli>\` runs another build side by side) | ${parts.join('; ')} |`;
}

function predictRow(r: Json): string {
  const s = r.summary;
  const p95 = Object.entries(s.max_p95_predict_ms as Record<string, number>)
    .map(([k, v]) => `${k} ${v < 0.1 ? v.toFixed(3) : f1(v)} ms (${f2(v / s.reference_loop_ms)}x)`)
    .join(', ');
  const failing = Object.entries(s.p95_verdict as Record<string, string>).filter(([, v]) => v !== 'pass').map(([k]) => k);
  return `| \`npm run bench:predict\` | forecast accuracy and cost per predictor and trace | accuracy: see above; worst p95 per forecast over all traces, and as a multiple of a reference loop timed in the same run (${f1(s.reference_loop_ms)} ms): ${p95}; 5 ms target ${failing.length ? `missed by ${failing.join(', ')}` : 'met by all'} |`;
}

function simRow(r: Json): string {
  const parts: string[] = [];
  for (const [trace, runs] of Object.entries(r.perf as Record<string, Json>)) {
    if (trace === 'pileup') continue;
    const base = Object.entries(runs).find(([k]) => k.startsWith('baseline'))?.[1];
    if (!base) continue;
    const rest = Object.entries(runs).filter(([k]) => !k.startsWith('baseline'))
      .map(([k, v]) => `${k.replace(/^simulate /, '')} ${f2(v.wall_s / base.wall_s)}x wall / ${f2(v.cpu_s / base.cpu_s)}x CPU`);
    parts.push(`${trace.replace(/\.jsonl(\.gz)?$/, '')} (${(base.requests / 1e6).toFixed(2)} M requests) vs a bare gunzip + JSON.parse of it: ${rest.join(', ')}`);
  }
  const pile = r.perf.pileup as Json | undefined;
  if (pile) parts.push(`${Math.round(pile.bytes_per_queued_request)} bytes per queued request when ${pile.piled.peak_in_flight} pile up (target < 150)`);
  return `| \`npm run bench:sim -- --traces <dir>\` | simulator speed, memory, the policy table | ${parts.join('; ')} |`;
}

const ROWS: Array<[string, string, (r: Json) => string]> = [
  ['`npm run bench:interpolator`', 'interpolator', interpolatorRow],
  ['`npm run bench:predict`', 'predict', predictRow],
  ['`npm run bench:sim', 'sim', simRow],
  ['`npm run bench:daemon`', 'daemon', daemonRow],
];

export function regenerate(readme: string): string {
  const start = readme.indexOf(`\n${SECTION}\n`);
  if (start < 0) throw new Error(`README.md has no "${SECTION}" section`);
  const end = readme.indexOf('\n## ', start + SECTION.length + 2);
  const lines = readme.slice(start, end < 0 ? undefined : end).split('\n');
  for (const [prefix, name, row] of ROWS) {
    const r = results(name);
    if (!r) continue;
    const text = row(r);
    const at = lines.findIndex((l) => l.startsWith(`| ${prefix}`));
    if (at >= 0) lines[at] = text;
    else {
      // A new row goes after the table's last row.
      let last = lines.findIndex((l) => l.startsWith('| command'));
      while (last + 1 < lines.length && lines[last + 1]!.startsWith('|')) last++;
      lines.splice(last + 1, 0, text);
    }
  }
  return readme.slice(0, start) + lines.join('\n') + (end < 0 ? '' : readme.slice(end));
}

const current = readFileSync(README, 'utf8');
const next = regenerate(current);
if (process.argv.includes('--check')) {
  if (next !== current) {
    console.error('bench:readme: the README benchmark table differs from bench/results; run `npm run bench:readme`.');
    process.exit(1);
  }
} else {
  writeFileSync(README, next);
  console.log(`bench:readme: ${next === current ? 'README benchmark table already up to date' : 'README benchmark table rewritten'} from bench/results`);
}
