// report.html of `simulate --out`: the page's content (HTML level) and how it renders in headless
// Chromium (no console error, no network, charts as wide as the page, hover read-outs, a
// screenshot), at one hour and at 24 h of one-minute intervals.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/index.js';
import { comparisonReportHtml, cumulativeGpuHours, missedSpans, type ReportRun } from '../../src/sim/comparison.js';
import { loadInterpolators, runSimulations } from '../../src/sim/index.js';
import { seededRandom } from '../../src/util/random.js';
import type { TimelineRow } from '../../src/sim/types.js';
import { openPage, type Browser } from '../helpers/chromium.js';

const config = resolveConfig({ environment: 'virtual', prefill_engine_num_gpu: 1, decode_engine_num_gpu: 1, ttft: 300, itl: 20, throughput_adjustment_interval: 60, load_predictor: 'constant', max_gpu_budget: 8 }).config;
const TRACE = 'config/traces/azure2023_code_1h.jsonl';

/** A synthetic day of one-minute intervals: diurnal load, a planner that follows it, a static pool. */
function dayRuns(): ReportRun[] {
  const rand = seededRandom(7);
  const runs: ReportRun[] = [];
  for (const [policy, follows] of [['planner:constant', true], ['static:3,3', false]] as const) {
    const timeline: TimelineRow[] = [];
    const events: ReportRun['events'] = [];
    let decode = 3;
    for (let i = 1; i <= 1440; i++) {
      const rps = 4 + 3 * Math.sin((i / 1440) * 2 * Math.PI) + rand();
      const want = follows ? Math.max(1, Math.ceil(rps / 2)) : 3;
      if (want !== decode) events.push({ t_s: i * 60, pool: 'decode', from: decode, to: want, reason: 'scale, bound by demand' });
      decode = want;
      const load = rps / (2 * decode);
      timeline.push({
        t_s: i * 60, arrivals: rps * 60, completed: rps * 60, rps, forecast_rps: follows ? rps * (0.9 + 0.2 * rand()) : Number.NaN, isl: 3000, osl: 150,
        prefill_ready: 3, decode_ready: decode, prefill_target: 3, decode_target: decode, gpus: 3 + decode, ttft_ms: 100 + 300 * load, itl_ms: 8 + 10 * load,
        ttft_p99_ms: 150 + 500 * load * load, itl_p99_ms: 9 + 14 * load, sla_attainment: Math.min(1, 1.1 - 0.2 * load * rand()),
      });
    }
    const gpuHours = cumulativeGpuHours(timeline, 60).at(-1)!;
    runs.push({
      timeline, events, config: follows ? config : undefined,
      summary: {
        policy, mode: 'disagg', requests: 1000, completed: 1000, sla_attainment: 0.95, feasible_sla_attainment: 0.96, ttft_attainment: 0.96, itl_attainment: 0.99,
        infeasible: { requests: 3, ttft: 2, itl: 1, kv: 0 }, ttft_ms: { mean: 120, p50: 100, p90: 200, p99: 400 }, itl_ms: { mean: 9, p50: 9, p90: 10, p99: 12 },
        gpu_hours: gpuHours, gpus: { mean: gpuHours / 24, max: 7 }, scale_up: events.filter((e) => e.to > e.from).length, scale_down: events.filter((e) => e.to < e.from).length,
        dropped: 0, unfinished: 0, peak_in_flight: 10, preemptions: 0, clamped_targets: 0, idle_intervals_skipped: 0, simulated_s: 86_400, sla: { ttft_ms: 300, itl_ms: 20 }, policy_details: {},
      },
    });
  }
  return runs;
}

describe('comparison report: content', () => {
  it('missed intervals become merged spans reaching back one interval', () => {
    expect(missedSpans([1, 2, 3, 4, 5, 6], [false, true, true, false, true, false], 1)).toEqual([[1, 3], [4, 5]]);
    expect(missedSpans([1, 2], [false, false], 1)).toEqual([]);
  });

  it('cumulative GPU-hours add each interval\'s GPUs, an idle gap counting one interval', () => {
    const row = (t_s: number, gpus: number) => ({ t_s, gpus }) as TimelineRow;
    expect(cumulativeGpuHours([row(60, 2), row(120, 4), row(3600, 1)], 60)).toEqual([2 / 60, 6 / 60, 7 / 60]);
  });

  it('one table row per policy, the config, and a legend entry only for series with a line', () => {
    const html = comparisonReportHtml({ runs: dayRuns(), trace: 't.jsonl', profileDir: 'p', config, settings: [['cold start', '60 s']], attainmentGoal: 0.95 });
    expect(html.match(/<tr><td><span class="swatch"/g)).toHaveLength(2);
    expect(html).toContain('planner:constant');
    expect(html).toContain('&quot;throughput_adjustment_interval&quot;: 60');
    // The static policy makes no forecast: no legend entry for it in the load chart.
    expect(html).toContain('forecast of planner:constant');
    expect(html).not.toContain('forecast of static:3,3');
    // Nothing the browser would fetch (the config's URLs are text).
    expect(html).not.toMatch(/<link|\ssrc=|@import|url\(|href=/);
  });
});

describe('comparison report in headless Chromium', () => {
  const dir = mkdtempSync(join(tmpdir(), 'report-browser-'));
  const pages: Record<string, string> = {};
  const browsers: Browser[] = [];

  beforeAll(async () => {
    const interpolators = loadInterpolators('config/profile');
    const results = await runSimulations({ config, interpolators, trace: TRACE, policies: ['planner', 'static:2,1', 'hpa'], log: () => undefined });
    const runs: ReportRun[] = results.map((r) => ({ ...r, config: r.summary.policy.startsWith('planner') ? config : undefined }));
    pages.hour = join(dir, 'hour.html');
    writeFileSync(pages.hour, comparisonReportHtml({ runs, trace: TRACE, profileDir: 'config/profile', config, settings: [], attainmentGoal: 0.95 }));
    pages.day = join(dir, 'day.html');
    writeFileSync(pages.day, comparisonReportHtml({ runs: dayRuns(), trace: 'day.jsonl', profileDir: 'p', config, settings: [], attainmentGoal: 0.95 }));
  }, 120_000);
  afterAll(async () => {
    for (const b of browsers) await b.close();
  });

  for (const which of ['hour', 'day'] as const) {
    it(`${which}: renders without console errors or network, charts fill the width, hover reads values out, screenshot`, async () => {
      const page = await openPage(`file://${pages[which]}`);
      browsers.push(page);
      const figures = await page.evaluate<number>('document.querySelectorAll("figure.chart").length');
      // load, one replicas chart per policy, attainment, p99 TTFT, p99 ITL, cumulative GPU-hours
      expect(figures).toBe(which === 'hour' ? 3 + 5 : 2 + 5);
      expect(await page.evaluate<string>('document.body.getAttribute("data-charts-ready")')).toBe(String(figures));
      const widths = await page.evaluate<number[]>('[...document.querySelectorAll("figure.chart svg[role=img]")].map((s) => s.getBoundingClientRect().width / document.body.clientWidth)');
      for (const w of widths) expect(w).toBeGreaterThan(0.97);
      // Hover the middle of the attainment chart: every policy's value at that time.
      const box = await page.evaluate<{ x: number; y: number; w: number; h: number }>('(() => { const r = document.querySelector("#attainment .plot > svg").getBoundingClientRect(); return { x: r.x, y: r.y, w: r.width, h: r.height }; })()');
      await page.evaluate(`window.scrollTo(0, ${Math.max(0, box.y - 200)})`);
      const top = await page.evaluate<number>('document.querySelector("#attainment .plot > svg").getBoundingClientRect().y');
      await page.mouseMove(box.x + box.w * 0.5, top + box.h * 0.4);
      const tip = await page.evaluate<{ hidden: boolean; text: string }>('(() => { const t = document.querySelector("#attainment .tip"); return { hidden: t.hidden, text: t.textContent }; })()');
      expect(tip.hidden).toBe(false);
      expect(tip.text).toMatch(/^time \((min|h)\) \d+(\.\d+)?/);
      expect(tip.text).toMatch(which === 'hour' ? /planner:constant: [\d.]+%.*static:2,1: [\d.]+%.*hpa:0\.7: ([\d.]+%|n\/a)/ : /planner:constant: [\d.]+%.*static:3,3: [\d.]+%/);
      const png = await page.screenshot();
      expect(png.subarray(1, 4).toString()).toBe('PNG');
      expect(png.length).toBeGreaterThan(50_000);
      writeFileSync(join(dir, `${which}.png`), png);
      expect(page.errors).toEqual([]);
      expect(page.remoteRequests).toEqual([]);
    }, 90_000);
  }
});
