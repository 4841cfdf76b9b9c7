// Interactive line charts for the self-contained HTML pages (simulation report, profiler plots):
// inline SVG that fills the page width, an HTML legend listing only series that draw a line, and
// one small inline script giving every chart a hover read-out. No network, no library.
import { escapeXml as esc, finiteExtent, niceTicks } from './svg.js';

export interface ChartSeries {
  name: string;
  color: string;
  /** x of each point (the same length as ys); NaN ys break the line. */
  xs: readonly number[];
  ys: readonly number[];
  dashed?: boolean;
  /** Hold each value until the next x (replica counts). */
  step?: boolean;
  /** Draw a dot on every point (sparse measured curves). */
  dots?: boolean;
  width?: number;
}

/** A horizontal reference line (an SLA target). */
export interface ChartRule {
  y: number;
  label: string;
  color: string;
}

/** A vertical reference line (an SLA target on a latency axis). */
export interface ChartXRule {
  x: number;
  label: string;
  color: string;
}

/** Shaded x spans drawn as a strip under the plot (missed intervals of one series). */
export interface ChartStrip {
  label: string;
  color: string;
  spans: ReadonlyArray<readonly [number, number]>;
}

/** A point annotation (a scaling event): a triangle at (x, y) with a text read on hover. */
export interface ChartMarker {
  x: number;
  y: number;
  color: string;
  up: boolean;
  text: string;
}

export interface ChartSpec {
  id: string;
  title: string;
  xLabel: string;
  yLabel: string;
  series: ChartSeries[];
  rules?: ChartRule[];
  xRules?: ChartXRule[];
  strips?: ChartStrip[];
  markers?: ChartMarker[];
  /** Log scale on y (latencies spanning decades). */
  logY?: boolean;
  yMin?: number;
  yMax?: number;
  /** Plot height in viewBox units (the width is 1200). */
  height?: number;
  /** Decimals in the hover read-out. */
  digits?: number;
  /** Unit appended to values in the hover read-out. */
  unit?: string;
}

/** Colour-blind-safe palette (Okabe and Ito), then darker extras. */
export const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#8C564B', '#7F7F7F', '#B8860B'];

const W = 1200;
const M = { l: 70, r: 20, t: 14, b: 40 };
const STRIP_H = 7;

const round = (v: number) => Math.round(v * 10) / 10;

function tickText(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`;
  if (a >= 1e4) return `${+(v / 1e3).toPrecision(3)}k`;
  return String(+v.toPrecision(4));
}

/** Ticks of a log axis: 1, 2, 5 times powers of ten within [lo, hi]. */
function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= lo && v <= hi) out.push(v);
    }
  }
  return out;
}

function hasLine(s: ChartSeries): boolean {
  return s.ys.some((y) => Number.isFinite(y));
}

/** One chart: a <figure> holding the legend, the SVG and its data for the hover read-out. */
export function chartFigure(spec: ChartSpec): string {
  const series = spec.series.filter(hasLine);
  const strips = (spec.strips ?? []).filter((s) => s.spans.length > 0);
  const markers = spec.markers ?? [];
  const H = (spec.height ?? 260) + strips.length * (STRIP_H + 2);
  const plotBottom = H - M.b - strips.length * (STRIP_H + 2);
  const xExt = finiteExtent([...series.flatMap((s) => s.xs), ...(spec.xRules ?? []).map((r) => r.x)]) ?? { min: 0, max: 1 };
  const xMin = xExt.min;
  const xMax = xExt.max > xExt.min ? xExt.max : xExt.min + 1;
  const yValues = [...series.flatMap((s) => s.ys), ...(spec.rules ?? []).map((r) => r.y)];
  const yExt = finiteExtent(spec.logY ? yValues.filter((v) => v > 0) : yValues) ?? { min: 0, max: 1 };
  let yLo = spec.yMin ?? (spec.logY ? yExt.min / 1.3 : Math.min(0, yExt.min));
  let yHi = spec.yMax ?? (spec.logY ? yExt.max * 1.3 : yExt.max * 1.08);
  if (!(yHi > yLo)) yHi = yLo + 1;
  if (spec.logY) {
    yLo = Math.max(yLo, 1e-6);
    yHi = Math.max(yHi, yLo * 10);
  }
  const pw = W - M.l - M.r;
  const ph = plotBottom - M.t;
  const sx = (x: number) => M.l + ((x - xMin) / (xMax - xMin)) * pw;
  const sy = spec.logY
    ? (y: number) => plotBottom - ((Math.log(Math.max(y, yLo)) - Math.log(yLo)) / (Math.log(yHi) - Math.log(yLo))) * ph
    : (y: number) => plotBottom - ((Math.min(Math.max(y, yLo), yHi) - yLo) / (yHi - yLo)) * ph;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="100%" role="img" aria-label="${esc(spec.title)}">`);
  for (const t of spec.logY ? logTicks(yLo, yHi) : niceTicks(yLo, yHi, 5)) {
    const Y = round(sy(t));
    parts.push(`<line x1="${M.l}" x2="${M.l + pw}" y1="${Y}" y2="${Y}" stroke="#e6e6e6"/><text x="${M.l - 6}" y="${Y + 4}" font-size="12" text-anchor="end">${tickText(t)}</text>`);
  }
  for (const t of niceTicks(xMin, xMax, 10)) {
    const X = round(sx(t));
    parts.push(`<line x1="${X}" x2="${X}" y1="${M.t}" y2="${plotBottom}" stroke="#f0f0f0"/><text x="${X}" y="${H - M.b + 16}" font-size="12" text-anchor="middle">${tickText(t)}</text>`);
  }
  parts.push(`<text x="${M.l + pw / 2}" y="${H - 6}" font-size="12" text-anchor="middle">${esc(spec.xLabel)}</text>`);
  parts.push(`<text x="16" y="${M.t + ph / 2}" font-size="12" text-anchor="middle" transform="rotate(-90 16 ${M.t + ph / 2})">${esc(spec.yLabel)}</text>`);
  for (const r of spec.rules ?? []) {
    const Y = round(sy(r.y));
    parts.push(`<line x1="${M.l}" x2="${M.l + pw}" y1="${Y}" y2="${Y}" stroke="${r.color}" stroke-width="1.5" stroke-dasharray="8 5"/>`);
    parts.push(`<text x="${M.l + pw - 4}" y="${Y - 4}" font-size="12" text-anchor="end" fill="${r.color}">${esc(r.label)}</text>`);
  }
  for (const r of spec.xRules ?? []) {
    const X = round(sx(r.x));
    parts.push(`<line x1="${X}" x2="${X}" y1="${M.t}" y2="${plotBottom}" stroke="${r.color}" stroke-width="1.5" stroke-dasharray="8 5"/>`);
    parts.push(`<text x="${X + 4}" y="${M.t + 14}" font-size="12" fill="${r.color}">${esc(r.label)}</text>`);
  }
  for (const s of series) {
    let d = '';
    let pen = false;
    let lastY = '';
    for (let k = 0; k < s.xs.length; k++) {
      const v = s.ys[k];
      if (!Number.isFinite(v) || !Number.isFinite(s.xs[k])) {
        pen = false;
        continue;
      }
      const X = round(sx(s.xs[k]));
      const Y = String(round(sy(v)));
      if (!pen) d += `M${X},${Y}`;
      else if (s.step) d += Y === lastY ? `H${X}` : `H${X}V${Y}`;
      else d += `L${X},${Y}`;
      pen = true;
      lastY = Y;
    }
    parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="${s.width ?? 1.8}" stroke-linejoin="round"${s.dashed ? ' stroke-dasharray="7 4"' : ''}/>`);
    if (s.dots) {
      for (let k = 0; k < s.xs.length; k++) {
        if (Number.isFinite(s.ys[k])) parts.push(`<circle cx="${round(sx(s.xs[k]))}" cy="${round(sy(s.ys[k]))}" r="3" fill="${s.color}"/>`);
      }
    }
  }
  // Many markers (a day of frequent scaling) are drawn smaller so the lines stay visible.
  const r = markers.length > 120 ? 3 : 5;
  for (const m of markers) {
    const X = round(sx(m.x));
    const Y = round(sy(m.y));
    const tri = m.up ? `${X - r},${Y + 2 * r - 1} ${X + r},${Y + 2 * r - 1} ${X},${Y + 1}` : `${X - r},${Y - 2 * r + 1} ${X + r},${Y - 2 * r + 1} ${X},${Y - 1}`;
    parts.push(`<polygon points="${tri}" fill="${m.color}" stroke="#fff" stroke-width="0.8"><title>${esc(m.text)}</title></polygon>`);
  }
  strips.forEach((strip, i) => {
    const y = plotBottom + 3 + i * (STRIP_H + 2);
    parts.push(`<rect x="${M.l}" y="${y}" width="${pw}" height="${STRIP_H}" fill="#f4f4f4"/>`);
    for (const [a, b] of strip.spans) {
      const x0 = sx(Math.max(a, xMin));
      const x1 = sx(Math.min(b, xMax));
      // Translucent columns over the plot make the missed spans visible next to the lines.
      parts.push(`<rect x="${round(x0)}" y="${M.t}" width="${round(Math.max(1, x1 - x0))}" height="${ph}" fill="${strip.color}" fill-opacity="0.07"/>`);
      parts.push(`<rect x="${round(x0)}" y="${y}" width="${round(Math.max(1.5, x1 - x0))}" height="${STRIP_H}" fill="${strip.color}"/>`);
    }
  });
  parts.push(`<rect x="${M.l}" y="${M.t}" width="${pw}" height="${ph}" fill="none" stroke="#666"/>`);
  parts.push(`<line class="cursor" x1="0" x2="0" y1="${M.t}" y2="${plotBottom}" stroke="#333" stroke-width="1" visibility="hidden"/>`);
  parts.push(`<rect class="hit" x="${M.l}" y="${M.t}" width="${pw}" height="${ph}" fill="transparent"/>`);
  parts.push('</svg>');

  const legend: string[] = series.map((s) => `<span class="key"><svg aria-hidden="true" width="26" height="10"><line x1="1" x2="25" y1="5" y2="5" stroke="${s.color}" stroke-width="2.5"${s.dashed ? ' stroke-dasharray="6 3"' : ''}/></svg>${esc(s.name)}</span>`);
  for (const r of [...(spec.rules ?? []), ...(spec.xRules ?? [])]) legend.push(`<span class="key"><svg aria-hidden="true" width="26" height="10"><line x1="1" x2="25" y1="5" y2="5" stroke="${r.color}" stroke-width="1.5" stroke-dasharray="6 3"/></svg>${esc(r.label)}</span>`);
  for (const s of strips) legend.push(`<span class="key"><svg aria-hidden="true" width="14" height="10"><rect width="14" height="8" y="1" fill="${s.color}"/></svg>${esc(s.label)}</span>`);
  if (markers.length > 0) legend.push(`<span class="key"><svg aria-hidden="true" width="14" height="12"><polygon points="2,11 12,11 7,2" fill="#444"/></svg>scaling event (hover for its reason)</span>`);

  const data = {
    x0: M.l, x1: M.l + pw, xMin, xMax, digits: spec.digits ?? 2, unit: spec.unit ?? '', xLabel: spec.xLabel,
    series: series.map((s) => ({ name: s.name, color: s.color, xs: s.xs, ys: s.ys.map((v) => (Number.isFinite(v) ? v : null)) })),
    markers: markers.map((m) => ({ x: m.x, text: m.text })),
  };
  return [
    `<figure class="chart" id="${esc(spec.id)}">`,
    `<figcaption>${esc(spec.title)}</figcaption>`,
    `<div class="legend">${legend.join('')}</div>`,
    `<div class="plot">${parts.join('')}<div class="tip" hidden></div></div>`,
    `<script type="application/json" class="chart-data">${JSON.stringify(data).replace(/</g, '\\u003c')}</script>`,
    '</figure>',
  ].join('\n');
}

/** Style of the chart figures. */
export const CHART_CSS = `figure.chart{margin:18px 0 26px;width:100%}figure.chart figcaption{font-weight:600;font-size:15px;margin-bottom:4px}
.legend{display:flex;flex-wrap:wrap;gap:4px 16px;font-size:13px;margin:2px 0 4px}.legend .key{display:inline-flex;align-items:center;gap:5px}
.plot{position:relative}.plot svg{display:block;font-family:system-ui,sans-serif}
.tip{position:absolute;top:6px;pointer-events:none;background:rgba(255,255,255,.95);border:1px solid #999;border-radius:4px;padding:4px 8px;font-size:12px;line-height:1.35;white-space:nowrap;box-shadow:0 1px 4px rgba(0,0,0,.15)}
.tip b{font-weight:600}.tip i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}`;

/**
 * The hover read-out: for the x under the cursor, every series' nearest point and the annotations
 * within half a point's spacing. Runs once per page; each chart reads its own JSON.
 */
export const CHART_SCRIPT = `(function(){
function near(xs,x){var lo=0,hi=xs.length-1;if(hi<0)return -1;while(hi-lo>1){var m=(lo+hi)>>1;if(xs[m]<x)lo=m;else hi=m;}return Math.abs(xs[lo]-x)<=Math.abs(xs[hi]-x)?lo:hi;}
function fmt(v,d){if(v===null||v===undefined)return 'n/a';var a=Math.abs(v);return a>=1e5?Math.round(v).toLocaleString('en'):(+v.toFixed(d)).toString();}
function esc(s){return String(s).replace(/[&<>]/g,function(c){return c==='&'?'&amp;':c==='<'?'&lt;':'&gt;';});}
document.querySelectorAll('figure.chart').forEach(function(fig){
var data=JSON.parse(fig.querySelector('script.chart-data').textContent);var svg=fig.querySelector('.plot > svg');var tip=fig.querySelector('.tip');var cur=svg.querySelector('.cursor');var plot=fig.querySelector('.plot');
var step=0;data.series.forEach(function(s){if(s.xs.length>1){var d=(s.xs[s.xs.length-1]-s.xs[0])/(s.xs.length-1);if(d>0&&(step===0||d<step))step=d;}});
function move(ev){var p=svg.createSVGPoint();p.x=ev.clientX;p.y=ev.clientY;var q=p.matrixTransform(svg.getScreenCTM().inverse());
var x=data.xMin+(q.x-data.x0)/(data.x1-data.x0)*(data.xMax-data.xMin);if(q.x<data.x0||q.x>data.x1){leave();return;}
var rows=[],shownX=null;data.series.forEach(function(s){var i=near(s.xs,x);if(i<0)return;if(shownX===null)shownX=s.xs[i];rows.push('<i style="background:'+s.color+'"></i>'+esc(s.name)+': <b>'+fmt(s.ys[i],data.digits)+(s.ys[i]===null?'':data.unit)+'</b>');});
data.markers.forEach(function(m){if(Math.abs(m.x-x)<=Math.max(step/2,(data.xMax-data.xMin)/400))rows.push('&#9650; '+esc(m.text));});
tip.innerHTML='<b>'+esc(data.xLabel)+' '+fmt(shownX===null?x:shownX,2)+'</b><br>'+rows.join('<br>');tip.hidden=false;
var sx=data.x0+((shownX===null?x:shownX)-data.xMin)/(data.xMax-data.xMin)*(data.x1-data.x0);cur.setAttribute('x1',sx);cur.setAttribute('x2',sx);cur.setAttribute('visibility','visible');
var box=plot.getBoundingClientRect();var left=ev.clientX-box.left+14;if(left+tip.offsetWidth>box.width)left=ev.clientX-box.left-tip.offsetWidth-14;tip.style.left=Math.max(0,left)+'px';}
function leave(){tip.hidden=true;cur.setAttribute('visibility','hidden');}
svg.addEventListener('mousemove',move);svg.addEventListener('mouseleave',leave);});
document.body.setAttribute('data-charts-ready',String(document.querySelectorAll('figure.chart').length));
})();`;
