// A self-contained HTML page (inline SVG, no scripts) with the profile curves: TTFT vs ISL and
// ITL vs KV usage for each decode context length, plus the parallelism choice.
import type { DecodeSweep, PrefillSweep } from './sweep.js';
import { escapeXml as esc, finiteExtent, niceTicks } from '../util/svg.js';

export interface Series {
  label: string;
  x: number[];
  y: number[];
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

const tickLabel = (v: number) => (Math.abs(v) >= 1e4 ? `${v / 1000}k` : String(v));

/** One line chart as an SVG element. */
export function lineChart(title: string, xLabel: string, yLabel: string, series: Series[]): string {
  const W = 640;
  const H = 380;
  const m = { l: 64, r: 150, t: 34, b: 48 };
  const xRange = finiteExtent(series.flatMap((s) => s.x));
  const xMin = Math.min(0, xRange?.min ?? 0);
  const xMax = xRange?.max ?? 1;
  const yMax = (finiteExtent(series.flatMap((s) => s.y))?.max ?? 1) * 1.05;
  const px = (x: number) => m.l + ((x - xMin) / (xMax - xMin || 1)) * (W - m.l - m.r);
  const py = (y: number) => H - m.b - (y / (yMax || 1)) * (H - m.t - m.b);
  const out: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}">`];
  out.push(`<text x="${W / 2 - m.r / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`);
  for (const t of niceTicks(xMin, xMax)) {
    out.push(`<line x1="${px(t)}" y1="${m.t}" x2="${px(t)}" y2="${H - m.b}" stroke="#eee"/><text x="${px(t)}" y="${H - m.b + 16}" text-anchor="middle" font-size="11">${tickLabel(t)}</text>`);
  }
  for (const t of niceTicks(0, yMax)) {
    out.push(`<line x1="${m.l}" y1="${py(t)}" x2="${W - m.r}" y2="${py(t)}" stroke="#eee"/><text x="${m.l - 6}" y="${py(t) + 4}" text-anchor="end" font-size="11">${tickLabel(t)}</text>`);
  }
  out.push(`<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 10}" text-anchor="middle" font-size="12">${esc(xLabel)}</text>`);
  out.push(`<text transform="translate(16 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle" font-size="12">${esc(yLabel)}</text>`);
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const pts = s.x.map((x, j) => `${px(x).toFixed(1)},${py(s.y[j]).toFixed(1)}`).join(' ');
    out.push(`<polyline points="${pts}" fill="none" stroke="${color}" stroke-width="2"/>`);
    for (const p of pts.split(' ')) {
      const [cx, cy] = p.split(',');
      out.push(`<circle cx="${cx}" cy="${cy}" r="2.5" fill="${color}"/>`);
    }
    const ly = m.t + 14 + i * 18;
    out.push(`<line x1="${W - m.r + 10}" y1="${ly - 4}" x2="${W - m.r + 30}" y2="${ly - 4}" stroke="${color}" stroke-width="2"/><text x="${W - m.r + 36}" y="${ly}" font-size="11">${esc(s.label)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}

/** Decode points grouped by context length, each sorted by KV usage. */
export function decodeSeries(d: DecodeSweep): Series[] {
  const byContext = new Map<number, { x: number; y: number }[]>();
  d.y_context_length.forEach((ctx, i) => {
    const list = byContext.get(ctx) ?? [];
    list.push({ x: d.x_kv_usage[i], y: d.z_itl[i] });
    byContext.set(ctx, list);
  });
  return [...byContext.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([ctx, pts]) => {
      pts.sort((a, b) => a.x - b.x);
      return { label: `context ${ctx}`, x: pts.map((p) => p.x), y: pts.map((p) => p.y) };
    });
}

export function plotPage(title: string, summary: string, prefill: PrefillSweep, decode: DecodeSweep): string {
  const ttft = lineChart('TTFT vs ISL (prefill engine)', 'input sequence length (tokens)', 'TTFT (ms)', [
    { label: 'TTFT', x: prefill.prefill_isl, y: prefill.prefill_ttft },
  ]);
  const itl = lineChart('ITL vs KV-cache usage (decode engine)', `KV usage (fraction of ${decode.max_kv_tokens} tokens)`, 'ITL (ms)', decodeSeries(decode));
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>${esc(title)}</title>`,
    '<style>body{font-family:system-ui,sans-serif;margin:24px;color:#222}pre{background:#f6f6f6;padding:12px;overflow:auto}svg{margin:8px 0;display:block}</style>',
    '</head><body>',
    `<h1>${esc(title)}</h1>`,
    '<p>Predicted by the sla-planner rapid profiler (performance model, no GPU). These are the curves written to the profile data.</p>',
    `<pre>${esc(summary)}</pre>`,
    ttft,
    itl,
    '</body></html>',
    '',
  ].join('\n');
}
