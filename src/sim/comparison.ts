// report.html of `simulate --out`: every policy of the run side by side on one self-contained page
// (summary table, the config used, and interactive charts; inline SVG and script, no network).
import type { PlannerConfig } from '../config/schema.js';
import { CHART_CSS, CHART_SCRIPT, PALETTE, chartFigure, type ChartMarker, type ChartSeries, type ChartStrip } from '../util/chart.js';
import { escapeXml as esc } from '../util/svg.js';
import type { ScaleEvent, SimSummary, TimelineRow } from './types.js';

export interface ReportRun {
  summary: SimSummary;
  timeline: TimelineRow[];
  events: ScaleEvent[];
  /** The effective config of a planner policy (planner:sla runs the file under its strategy). */
  config?: PlannerConfig;
  /** How this row came about, e.g. how a searched static allocation was found. */
  note?: string;
}

export interface ComparisonInput {
  runs: ReportRun[];
  trace: string;
  profileDir: string;
  /** The config the run was given. */
  config: PlannerConfig;
  /** Simulation settings worth showing (cold start, window, load scale), as label -> value. */
  settings: Array<[string, string]>;
  /** Share of an interval's requests that must meet both targets for the interval to count as met. */
  attainmentGoal: number;
}

/** Most scaling events listed per policy in the page's tables (the charts show them all). */
export const MAX_LISTED_EVENTS = 400;

const pct = (v: number) => `${(v * 100).toFixed(2)}%`;
const ms = (v: number | null) => (v === null ? 'n/a' : v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(1)} ms`);

/** Contiguous x spans (each interval reaching back one interval) where `missed` holds. */
export function missedSpans(xs: readonly number[], missed: readonly boolean[], widthX: number): Array<[number, number]> {
  const spans: Array<[number, number]> = [];
  for (let i = 0; i < xs.length; i++) {
    if (!missed[i]) continue;
    const a = xs[i] - widthX;
    const last = spans[spans.length - 1];
    if (last && a <= last[1] + 1e-9) last[1] = xs[i];
    else spans.push([a, xs[i]]);
  }
  return spans;
}

/** GPU-hours accumulated at the end of each interval, from the GPUs allocated over it. */
export function cumulativeGpuHours(timeline: readonly TimelineRow[], intervalS: number): number[] {
  let total = 0;
  let prevT = 0;
  return timeline.map((r) => {
    const span = Math.min(intervalS, r.t_s - prevT);
    prevT = r.t_s;
    total += (r.gpus * Math.max(0, span)) / 3600;
    return total;
  });
}

function summaryTable(input: ComparisonInput): string {
  const head = ['policy', 'SLA attainment', 'feasible attainment', 'p99 TTFT', 'p99 ITL', 'GPU-hours', 'GPUs mean / max', 'scale events', 'infeasible requests', `intervals under ${pct(input.attainmentGoal)}`];
  const rows = input.runs.map((r, i) => {
    const s = r.summary;
    const missed = r.timeline.filter((row) => Number.isFinite(row.sla_attainment) && row.sla_attainment < input.attainmentGoal).length;
    const scored = r.timeline.filter((row) => Number.isFinite(row.sla_attainment)).length;
    const cells = [
      `<span class="swatch" style="background:${PALETTE[i % PALETTE.length]}"></span>${esc(s.policy)}${r.note ? `<div class="note">${esc(r.note)}</div>` : ''}`,
      pct(s.sla_attainment),
      pct(s.feasible_sla_attainment),
      ms(s.ttft_ms.p99),
      ms(s.itl_ms.p99),
      s.gpu_hours.toFixed(2),
      `${s.gpus.mean.toFixed(2)} / ${s.gpus.max}`,
      `${s.scale_up + s.scale_down} (${s.scale_up} up, ${s.scale_down} down)`,
      `${s.infeasible.requests} (TTFT ${s.infeasible.ttft}, ITL ${s.infeasible.itl}, KV ${s.infeasible.kv})`,
      `${missed} of ${scored}`,
    ];
    return `<tr>${cells.map((c) => `<td>${c}</td>`).join('')}</tr>`;
  });
  return `<table class="summary"><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function configSection(input: ComparisonInput): string {
  const settings = [
    ['trace', input.trace],
    ['profile', input.profileDir],
    ['SLA targets', `TTFT ${input.config.ttft} ms, ITL ${input.config.itl} ms (a request meets the SLA when it meets both)`],
    ['interval goal', `an interval is met when at least ${pct(input.attainmentGoal)} of the requests finishing in it meet the SLA`],
    ...input.settings,
  ];
  const own = input.runs.filter((r) => r.config).map((r) => `<details><summary>effective config of ${esc(r.summary.policy)}</summary><pre>${esc(JSON.stringify(r.config, null, 2))}</pre></details>`);
  return [
    '<table class="settings">',
    ...settings.map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(v)}</td></tr>`),
    '</table>',
    `<details><summary>config given (--config, effective)</summary><pre>${esc(JSON.stringify(input.config, null, 2))}</pre></details>`,
    ...own,
  ].join('\n');
}

function eventTables(input: ComparisonInput, x: (tS: number) => number, xLabel: string): string {
  return input.runs
    .filter((r) => r.events.length > 0)
    .map((r) => {
      const rows = r.events.slice(0, MAX_LISTED_EVENTS).map((e) => `<tr><td>${x(e.t_s).toFixed(2)}</td><td>${e.pool}</td><td>${e.from} &rarr; ${e.to}</td><td>${esc(e.reason)}</td></tr>`);
      const more = r.events.length > MAX_LISTED_EVENTS ? `<p>${r.events.length - MAX_LISTED_EVENTS} more not listed (all are on the chart).</p>` : '';
      return `<details><summary>${esc(r.summary.policy)}: ${r.events.length} scaling events</summary><table class="events"><tr><th>${esc(xLabel)}</th><th>pool</th><th>replicas</th><th>reason</th></tr>${rows.join('')}</table>${more}</details>`;
    })
    .join('\n');
}

export function comparisonReportHtml(input: ComparisonInput): string {
  const { runs } = input;
  const intervalS = input.config.throughput_adjustment_interval;
  const endS = Math.max(0, ...runs.map((r) => r.timeline.at(-1)?.t_s ?? 0));
  const hours = endS > 3 * 3600;
  const xOf = (tS: number) => (hours ? tS / 3600 : tS / 60);
  const xLabel = hours ? 'time (h)' : 'time (min)';
  const widthX = xOf(intervalS);
  const color = (i: number) => PALETTE[i % PALETTE.length];
  // Policies can coincide (two planners with the same forecaster): each is drawn wider than the
  // ones after it, so a line hidden under another still shows as its coloured edge.
  const width = (i: number) => 1.6 + 1.2 * (runs.length - 1 - i);
  const xsOf = (r: ReportRun) => r.timeline.map((row) => xOf(row.t_s));
  const col = (r: ReportRun, k: keyof TimelineRow) => r.timeline.map((row) => row[k]);
  const ttftTarget = input.config.ttft;
  const itlTarget = input.config.itl;

  // Load vs forecast: the trace's arrivals once (every run sees the same), each planner's forecast.
  const base = runs[0];
  const load: ChartSeries[] = base ? [{ name: 'arrivals (req/s)', color: '#222', xs: xsOf(base), ys: col(base, 'rps'), width: 1.4 }] : [];
  runs.forEach((r, i) => load.push({ name: `forecast of ${r.summary.policy}`, color: color(i), xs: xsOf(r), ys: col(r, 'forecast_rps'), dashed: true, width: width(i) }));

  const replicaMax = Math.max(1, ...runs.flatMap((r) => r.timeline.flatMap((row) => [row.prefill_target, row.decode_target, row.prefill_ready, row.decode_ready])));
  const agg = input.config.mode === 'agg';
  const replicaCharts = runs.map((r, i) => {
    const xs = xsOf(r);
    const series: ChartSeries[] = [];
    if (!agg) {
      series.push({ name: 'prefill ready', color: '#0072B2', xs, ys: col(r, 'prefill_ready'), step: true, width: 2.4 });
      series.push({ name: 'prefill target', color: '#56B4E9', xs, ys: col(r, 'prefill_target'), step: true, dashed: true });
    }
    series.push({ name: 'decode ready', color: '#D55E00', xs, ys: col(r, 'decode_ready'), step: true, width: 2.4 });
    series.push({ name: 'decode target', color: '#E69F00', xs, ys: col(r, 'decode_target'), step: true, dashed: true });
    const markers: ChartMarker[] = r.events.map((e) => ({
      x: xOf(e.t_s), y: e.to, up: e.to > e.from, color: e.pool === 'prefill' ? '#0072B2' : '#D55E00',
      text: `${e.pool} ${e.from} → ${e.to} at ${xOf(e.t_s).toFixed(2)}: ${e.reason}`,
    }));
    return chartFigure({
      id: `replicas-${i}`, title: `Replicas of ${r.summary.policy} (target dashed, ready solid${r.events.length ? '; triangles are scaling calls' : ''})`, xLabel, yLabel: 'replicas',
      series, markers, yMin: 0, yMax: replicaMax + 0.5, height: 190, digits: 0,
    });
  });

  const strips = (missed: (row: TimelineRow) => boolean): ChartStrip[] => runs.map((r, i) => ({
    label: `missed by ${r.summary.policy}`, color: color(i), spans: missedSpans(xsOf(r), r.timeline.map(missed), widthX),
  }));
  const perPolicy = (k: keyof TimelineRow, scale = 1): ChartSeries[] => runs.map((r, i) => ({ name: r.summary.policy, color: color(i), xs: xsOf(r), ys: col(r, k).map((v) => v * scale), width: width(i) }));

  const charts = [
    chartFigure({ id: 'load', title: 'Load vs forecast (requests per second, per interval)', xLabel, yLabel: 'requests/s', series: load, yMin: 0, unit: ' req/s' }),
    ...replicaCharts,
    chartFigure({
      id: 'attainment', title: `SLA attainment per interval (requests finishing in it that meet TTFT ${ttftTarget} ms and ITL ${itlTarget} ms)`, xLabel, yLabel: 'attainment (%)',
      series: perPolicy('sla_attainment', 100), rules: [{ y: input.attainmentGoal * 100, label: `goal ${pct(input.attainmentGoal)}`, color: '#b00' }],
      strips: strips((row) => Number.isFinite(row.sla_attainment) && row.sla_attainment < input.attainmentGoal), yMin: 0, yMax: 100, unit: '%', digits: 1,
    }),
    chartFigure({
      id: 'ttft', title: 'p99 TTFT per interval (log scale)', xLabel, yLabel: 'p99 TTFT (ms)', series: perPolicy('ttft_p99_ms'), logY: true, unit: ' ms', digits: 1,
      rules: [{ y: ttftTarget, label: `TTFT target ${ttftTarget} ms`, color: '#b00' }], strips: strips((row) => row.ttft_p99_ms > ttftTarget),
    }),
    chartFigure({
      id: 'itl', title: 'p99 ITL per interval (log scale)', xLabel, yLabel: 'p99 ITL (ms)', series: perPolicy('itl_p99_ms'), logY: true, unit: ' ms', digits: 2,
      rules: [{ y: itlTarget, label: `ITL target ${itlTarget} ms`, color: '#b00' }], strips: strips((row) => row.itl_p99_ms > itlTarget),
    }),
    chartFigure({
      id: 'gpu-hours', title: 'Cumulative GPU-hours', xLabel, yLabel: 'GPU-hours',
      series: runs.map((r, i) => ({ name: r.summary.policy, color: color(i), xs: xsOf(r), ys: cumulativeGpuHours(r.timeline, intervalS), width: width(i) })), yMin: 0, unit: ' GPU-h', digits: 3,
    }),
  ];

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>sla-planner simulation: ${esc(runs.map((r) => r.summary.policy).join(' vs '))}</title>
<style>body{font-family:system-ui,sans-serif;margin:20px 28px;color:#222}h1{font-size:22px;margin:0 0 6px}h2{font-size:18px;margin:26px 0 6px}
table{border-collapse:collapse;margin:8px 0 14px;font-size:14px}td,th{padding:4px 10px;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}th{background:#f3f3f3}
table.summary td:not(:first-child){text-align:right;white-space:nowrap}table.summary td:first-child{white-space:nowrap}.note{font-size:12px;color:#555;max-width:340px;white-space:normal}
.swatch{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:6px;vertical-align:-1px}
table.settings td:first-child{color:#555}pre{background:#f6f6f6;padding:10px;font-size:12px;max-height:420px;overflow:auto}details{margin:6px 0}
table.events{font-size:12px}${CHART_CSS}</style>
</head><body>
<h1>sla-planner simulate: ${runs.length} ${runs.length === 1 ? 'policy' : 'policies'} on one trace</h1>
<p>Every policy replays the same requests against the same engine model (vLLM-like scheduler built from the profile data) with ${esc(String(runs[0]?.summary.simulated_s ?? 0))} s simulated. A request meets the SLA when its TTFT is within ${ttftTarget} ms and its mean ITL within ${itlTarget} ms; dropped and unfinished requests miss. Infeasible requests miss their target even alone on an idle engine.</p>
<h2>Summary</h2>
${summaryTable(input)}
<h2>Charts</h2>
<p>One point per throughput interval (${intervalS} s). Hover a chart for the values at that time and the reasons of the scaling calls there; shaded columns and the coloured strips under a chart mark the intervals a policy missed.</p>
${charts.join('\n')}
<h2>Scaling events</h2>
${eventTables(input, xOf, xLabel) || '<p>No policy changed its replicas.</p>'}
<h2>Config used</h2>
${configSection(input)}
<script>${CHART_SCRIPT}</script>
</body></html>
`;
}
