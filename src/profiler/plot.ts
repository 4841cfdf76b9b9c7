// plots.html of the rapid profiler: a self-contained page (inline SVG and script, no network) with
// the curves written to the profile data (TTFT vs ISL, ITL vs KV usage per context) against the
// SLA targets, and, per tensor-parallel size tried, throughput per GPU vs latency, the trade-off
// the parallelism choice is made on.
import type { DecodeSweep, PrefillSweep } from './sweep.js';
import { itlMs, ttftMs, type Engine } from './perf.js';
import { DECODE_MAX_CONCURRENCY } from './sweep.js';
import type { Selection, Workload } from './select.js';
import type { Efficiency, GpuSpec, ModelShape } from './types.js';
import { CHART_CSS, CHART_SCRIPT, PALETTE, chartFigure, type ChartSeries } from '../util/chart.js';
import { escapeXml as esc } from '../util/svg.js';

/** Points per TP curve. */
const CURVE_POINTS = 40;

/** Decode points grouped by context length, each sorted by KV usage. */
export function decodeSeries(d: DecodeSweep): ChartSeries[] {
  const byContext = new Map<number, { x: number; y: number }[]>();
  d.y_context_length.forEach((ctx, i) => {
    const list = byContext.get(ctx) ?? [];
    list.push({ x: d.x_kv_usage[i], y: d.z_itl[i] });
    byContext.set(ctx, list);
  });
  return [...byContext.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([ctx, pts], i) => {
      pts.sort((a, b) => a.x - b.x);
      return { name: `context ${ctx}`, color: PALETTE[i % PALETTE.length], xs: pts.map((p) => p.x), ys: pts.map((p) => p.y), dots: true };
    });
}

export interface TpCurves {
  /** Per TP: TTFT (x, ms) against prefill tokens/s per GPU (y), over prompt lengths up to the workload's ISL times 4. */
  prefill: ChartSeries[];
  /** Per TP: ITL (x, ms) against output tokens/s per GPU (y), over concurrency at the workload's mean context. */
  decode: ChartSeries[];
}

/** Throughput per GPU vs latency for every TP size the selection could run (infeasible ones are left out). */
export function tpCurves(model: ModelShape, gpu: GpuSpec, eff: Efficiency, w: Workload, selection: Selection): TpCurves {
  const prefill: ChartSeries[] = [];
  const decode: ChartSeries[] = [];
  selection.prefill.candidates.forEach((c, i) => {
    if (c.infeasible) return;
    const e: Engine = { model, gpu, tp: c.tp, eff };
    const xs: number[] = [];
    const ys: number[] = [];
    for (let k = 1; k <= CURVE_POINTS; k++) {
      const isl = Math.max(1, Math.round((k / CURVE_POINTS) * 4 * w.isl));
      if (isl > c.maxKvTokens) break;
      const t = ttftMs(e, isl);
      xs.push(t);
      ys.push((isl / t / c.tp) * 1000);
    }
    const chosen = c.tp === selection.prefill.chosen.tp ? ' (chosen)' : '';
    prefill.push({ name: `TP${c.tp}${chosen}`, color: PALETTE[i % PALETTE.length], xs, ys, width: chosen ? 3 : 1.8 });
  });
  const context = w.isl + w.osl / 2;
  selection.decode.candidates.forEach((c, i) => {
    if (c.infeasible) return;
    const e: Engine = { model, gpu, tp: c.tp, eff };
    const maxBatch = Math.max(1, Math.min(Math.floor(c.maxKvTokens / (w.isl + w.osl)), DECODE_MAX_CONCURRENCY));
    const xs: number[] = [];
    const ys: number[] = [];
    let last = 0;
    for (let k = 0; k <= CURVE_POINTS; k++) {
      const batch = Math.max(1, Math.round(maxBatch ** (k / CURVE_POINTS)));
      if (batch === last) continue;
      last = batch;
      const t = itlMs(e, batch, context);
      xs.push(t);
      ys.push((batch / t / c.tp) * 1000);
    }
    const chosen = c.tp === selection.decode.chosen.tp ? ' (chosen)' : '';
    decode.push({ name: `TP${c.tp}${chosen}`, color: PALETTE[i % PALETTE.length], xs, ys, width: chosen ? 3 : 1.8 });
  });
  return { prefill, decode };
}

export interface PlotInput {
  title: string;
  summary: string;
  prefill: PrefillSweep;
  decode: DecodeSweep;
  workload: Workload;
  curves: TpCurves;
}

export function plotPage(p: PlotInput): string {
  const w = p.workload;
  const ttftRule = { y: w.ttftMs, label: `TTFT target ${w.ttftMs} ms`, color: '#b00' };
  const itlRule = { y: w.itlMs, label: `ITL target ${w.itlMs} ms`, color: '#b00' };
  const charts = [
    chartFigure({
      id: 'ttft-isl', title: 'TTFT vs ISL (selected prefill engine)', xLabel: 'input sequence length (tokens)', yLabel: 'TTFT (ms)', unit: ' ms', digits: 1,
      series: [{ name: 'TTFT', color: PALETTE[0], xs: p.prefill.prefill_isl, ys: p.prefill.prefill_ttft, dots: true }], rules: [ttftRule], yMin: 0,
    }),
    chartFigure({
      id: 'itl-kv', title: 'ITL vs KV-cache usage per context length (selected decode engine)', xLabel: `KV usage (fraction of ${p.decode.max_kv_tokens} tokens)`, yLabel: 'ITL (ms)',
      unit: ' ms', digits: 2, series: decodeSeries(p.decode), rules: [itlRule], yMin: 0,
    }),
    chartFigure({
      id: 'prefill-tp', title: `Prefill: throughput per GPU vs TTFT per TP size (prompts up to ${4 * w.isl} tokens; right of the dashed line misses the target)`,
      xLabel: 'TTFT (ms)', yLabel: 'prefill tokens/s per GPU', series: p.curves.prefill, xRules: [{ x: w.ttftMs, label: `TTFT target ${w.ttftMs} ms`, color: '#b00' }], yMin: 0, digits: 0,
    }),
    chartFigure({
      id: 'decode-tp', title: `Decode: throughput per GPU vs ITL per TP size (context ${w.isl + w.osl / 2}, concurrency 1 up to what the KV cache holds)`,
      xLabel: 'ITL (ms)', yLabel: 'output tokens/s per GPU', series: p.curves.decode, xRules: [{ x: w.itlMs, label: `ITL target ${w.itlMs} ms`, color: '#b00' }], yMin: 0, digits: 0,
    }),
  ];
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>${esc(p.title)}</title>`,
    `<style>body{font-family:system-ui,sans-serif;margin:20px 28px;color:#222}pre{background:#f6f6f6;padding:12px;overflow:auto}${CHART_CSS}</style>`,
    '</head><body>',
    `<h1>${esc(p.title)}</h1>`,
    '<p>Predicted by the sla-planner rapid profiler (performance model, no GPU). The first two charts are the curves written to the profile data; the last two compare the tensor-parallel sizes tried. Hover a chart for its values.</p>',
    `<pre>${esc(p.summary)}</pre>`,
    ...charts,
    `<script>${CHART_SCRIPT}</script>`,
    '</body></html>',
    '',
  ].join('\n');
}
