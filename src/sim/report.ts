// Writers for `simulate --out`: timeline.csv (one row per throughput interval) and report.html, a
// self-contained page (inline SVG, no scripts, no network) with the run's charts and summary.
import type { SimSummary, TimelineRow } from './types.js';
import { escapeXml as escapeHtml, finiteExtent, niceStep } from '../util/svg.js';

const COLUMNS: Array<keyof TimelineRow> = [
  't_s', 'arrivals', 'completed', 'rps', 'forecast_rps', 'isl', 'osl', 'prefill_ready', 'decode_ready',
  'prefill_target', 'decode_target', 'gpus', 'ttft_ms', 'itl_ms', 'sla_attainment',
];

const cell = (v: number): string => (Number.isFinite(v) ? String(Math.round(v * 1000) / 1000) : '');

export function timelineCsv(rows: TimelineRow[]): string {
  const lines = [COLUMNS.join(',')];
  for (const r of rows) lines.push(COLUMNS.map((c) => cell(r[c])).join(','));
  return lines.join('\n') + '\n';
}

interface Series {
  name: string;
  color: string;
  values: number[];
  dashed?: boolean;
  step?: boolean;
}

function fmt(v: number): string {
  if (Math.abs(v) >= 1000) return `${Math.round(v / 100) / 10}k`;
  return String(Math.round(v * 100) / 100);
}

export function lineChart(title: string, xs: number[], series: Series[], yLabel: string, xLabel: string): string {
  const W = 900, H = 240, L = 60, R = 150, T = 28, B = 36;
  const pw = W - L - R, ph = H - T - B;
  const yMax = Math.max(1e-9, finiteExtent(series.flatMap((s) => s.values))?.max ?? 0) * 1.08;
  const xMin = xs.length ? xs[0] : 0;
  const xMax = xs.length > 1 ? xs[xs.length - 1] : xMin + 1;
  const sx = (x: number) => L + ((x - xMin) / (xMax - xMin || 1)) * pw;
  const sy = (y: number) => T + ph - (y / yMax) * ph;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${escapeHtml(title)}">`);
  parts.push(`<text x="${L}" y="18" font-size="14" font-weight="bold">${escapeHtml(title)}</text>`);
  const yStep = niceStep(yMax, 5);
  for (let y = 0; y <= yMax; y += yStep) {
    parts.push(`<line x1="${L}" x2="${L + pw}" y1="${sy(y).toFixed(1)}" y2="${sy(y).toFixed(1)}" stroke="#e3e3e3"/>`);
    parts.push(`<text x="${L - 6}" y="${(sy(y) + 4).toFixed(1)}" font-size="11" text-anchor="end">${fmt(y)}</text>`);
  }
  const xStep = niceStep(xMax - xMin, 8);
  for (let x = Math.ceil(xMin / xStep) * xStep; x <= xMax; x += xStep) {
    parts.push(`<line x1="${sx(x).toFixed(1)}" x2="${sx(x).toFixed(1)}" y1="${T + ph}" y2="${T + ph + 4}" stroke="#555"/>`);
    parts.push(`<text x="${sx(x).toFixed(1)}" y="${T + ph + 16}" font-size="11" text-anchor="middle">${fmt(x)}</text>`);
  }
  parts.push(`<rect x="${L}" y="${T}" width="${pw}" height="${ph}" fill="none" stroke="#555"/>`);
  parts.push(`<text x="${L + pw / 2}" y="${H - 4}" font-size="11" text-anchor="middle">${escapeHtml(xLabel)}</text>`);
  parts.push(`<text x="14" y="${T + ph / 2}" font-size="11" text-anchor="middle" transform="rotate(-90 14 ${T + ph / 2})">${escapeHtml(yLabel)}</text>`);
  series.forEach((s, i) => {
    let d = '';
    let pen = false;
    s.values.forEach((v, k) => {
      if (!Number.isFinite(v)) {
        pen = false;
        return;
      }
      const X = sx(xs[k]).toFixed(1);
      const Y = sy(v).toFixed(1);
      if (!pen) d += `M${X},${Y}`;
      else if (s.step) d += `H${X}V${Y}`;
      else d += `L${X},${Y}`;
      pen = true;
    });
    parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.6"${s.dashed ? ' stroke-dasharray="5 4"' : ''}/>`);
    const ly = T + 12 + i * 16;
    parts.push(`<line x1="${L + pw + 10}" x2="${L + pw + 30}" y1="${ly - 4}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 4"' : ''}/>`);
    parts.push(`<text x="${L + pw + 34}" y="${ly}" font-size="11">${escapeHtml(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

export interface ReportInput {
  summary: SimSummary;
  timeline: TimelineRow[];
  trace: string;
  profileDir: string;
}

export function reportHtml(input: ReportInput): string {
  const { summary: s, timeline } = input;
  const hours = (timeline.at(-1)?.t_s ?? 0) > 3 * 3600;
  const xs = timeline.map((r) => (hours ? r.t_s / 3600 : r.t_s / 60));
  const xLabel = hours ? 'time (h)' : 'time (min)';
  const col = (k: keyof TimelineRow) => timeline.map((r) => r[k]);
  const flat = (v: number) => timeline.map(() => v);
  const pct = (v: number) => `${(v * 100).toFixed(2)}%`;
  const ms = (v: number | null) => (v === null ? 'n/a' : `${v.toFixed(1)} ms`);
  const charts = [
    lineChart('Load vs forecast', xs, [
      { name: 'arrivals (req/s)', color: '#1f77b4', values: col('rps') },
      { name: 'forecast (req/s)', color: '#ff7f0e', values: col('forecast_rps'), dashed: true },
    ], 'requests/s', xLabel),
    lineChart('Replicas over time', xs, [
      { name: 'prefill ready', color: '#2ca02c', values: col('prefill_ready'), step: true },
      { name: 'decode ready', color: '#9467bd', values: col('decode_ready'), step: true },
      { name: 'prefill target', color: '#2ca02c', values: col('prefill_target'), step: true, dashed: true },
      { name: 'decode target', color: '#9467bd', values: col('decode_target'), step: true, dashed: true },
      { name: 'GPUs', color: '#7f7f7f', values: col('gpus'), step: true },
    ], 'replicas', xLabel),
    lineChart('TTFT vs target (interval mean)', xs, [
      { name: 'TTFT', color: '#d62728', values: col('ttft_ms') },
      { name: `target ${s.sla.ttft_ms} ms`, color: '#000', values: flat(s.sla.ttft_ms), dashed: true },
    ], 'ms', xLabel),
    lineChart('ITL vs target (interval mean)', xs, [
      { name: 'ITL', color: '#8c564b', values: col('itl_ms') },
      { name: `target ${s.sla.itl_ms} ms`, color: '#000', values: flat(s.sla.itl_ms), dashed: true },
    ], 'ms', xLabel),
  ];
  const rows: Array<[string, string]> = [
    ['policy', s.policy],
    ['mode', s.mode],
    ['trace', input.trace],
    ['profile', input.profileDir],
    ['requests', String(s.requests)],
    ['SLA attainment (TTFT and ITL)', pct(s.sla_attainment)],
    ['TTFT attainment / ITL attainment', `${pct(s.ttft_attainment)} / ${pct(s.itl_attainment)}`],
    ['attainment over feasible requests (infeasible: TTFT / ITL / KV)', `${pct(s.feasible_sla_attainment)} (${s.infeasible.requests}: ${s.infeasible.ttft} / ${s.infeasible.itl} / ${s.infeasible.kv})`],
    ['decode preemptions', String(s.preemptions)],
    ['TTFT p50 / p90 / p99', `${ms(s.ttft_ms.p50)} / ${ms(s.ttft_ms.p90)} / ${ms(s.ttft_ms.p99)}`],
    ['ITL p50 / p90 / p99', `${ms(s.itl_ms.p50)} / ${ms(s.itl_ms.p90)} / ${ms(s.itl_ms.p99)}`],
    ['GPU-hours', s.gpu_hours.toFixed(2)],
    ['GPUs mean / max', `${s.gpus.mean.toFixed(2)} / ${s.gpus.max}`],
    ['scale-ups / scale-downs', `${s.scale_up} / ${s.scale_down}`],
    ['dropped / unfinished', `${s.dropped} / ${s.unfinished}`],
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sla-planner simulation: ${escapeHtml(s.policy)}</title>
<style>body{font-family:system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin-bottom:16px}td{padding:3px 12px;border-bottom:1px solid #ddd}td:first-child{color:#555}svg{display:block;margin:12px 0}</style>
</head><body>
<h1>sla-planner simulate</h1>
<table>${rows.map(([k, v]) => `<tr><td>${escapeHtml(k)}</td><td>${escapeHtml(v)}</td></tr>`).join('')}</table>
${charts.join('\n')}
<p>One point per throughput interval. Latencies are interval means as the frontend histograms report them; attainment counts every request (dropped and unfinished ones miss).</p>
</body></html>
`;
}
