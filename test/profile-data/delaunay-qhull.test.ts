// Our Delaunay triangulation against Qhull's (scipy.spatial.Delaunay, as the original planner's
// griddata uses it) on point sets where the triangulation is not unique: duplicates and
// cocircular points. The expected triangulations were recorded offline with scipy by
// test/fixtures/qhull-delaunay.py; the H100 cases are the decode sweeps of the H100 fixtures.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { delaunay } from '../../src/profile-data/delaunay.js';
import { qhullVertexOrder } from '../../src/profile-data/qhull-order.js';

interface RecordedCase {
  name: string;
  triangles: number[][];
  dropped: number[];
  xs?: number[];
  ys?: number[];
}
const recorded: { cases: RecordedCase[] } = JSON.parse(readFileSync('test/fixtures/qhull-delaunay.json', 'utf8'));

function pointsOf(c: RecordedCase): { xs: number[]; ys: number[] } {
  if (c.xs && c.ys) return { xs: c.xs, ys: c.ys };
  const d = JSON.parse(readFileSync(`test/fixtures/${c.name}/configmap/decode_raw_data.json`, 'utf8'));
  return { xs: d.x_kv_usage, ys: d.y_context_length };
}

const key = (t: readonly number[]) => [...t].sort((a, b) => a - b).join(',');

describe('Delaunay ties broken as Qhull breaks them', () => {
  it('has the recorded cases', () => {
    expect(recorded.cases.map((c) => c.name)).toEqual(expect.arrayContaining(['h100/llama-3.1-8b', 'h100/qwen3-0.6b']));
    expect(recorded.cases.length).toBeGreaterThanOrEqual(20);
  });

  it.each(recorded.cases.map((c) => [c.name, c] as const))('%s: the same triangles and the same vertices as scipy', (_, c) => {
    const { xs, ys } = pointsOf(c);
    const tri = delaunay(xs, ys);
    expect(tri.triangles.map(key).sort()).toEqual(c.triangles.map(key).sort());
    const used = new Set(c.triangles.flat());
    expect([...tri.vertices].sort((a, b) => a - b)).toEqual([...used].sort((a, b) => a - b));
    // The points Qhull leaves out (later duplicates) are exactly the ones not in our order.
    const order = new Set(qhullVertexOrder(xs, ys));
    expect(xs.map((_, i) => i).filter((i) => !order.has(i))).toEqual(c.dropped);
    // Counter-clockwise, as the interpolator expects.
    for (const [a, b, d] of tri.triangles) expect((xs[b]! - xs[a]!) * (ys[d]! - ys[a]!) - (ys[b]! - ys[a]!) * (xs[d]! - xs[a]!)).toBeGreaterThan(0);
  });

  it('without the Qhull tie-break, the H100 llama sweep differs from scipy (the test above can fail)', () => {
    const c = recorded.cases.find((r) => r.name === 'h100/llama-3.1-8b')!;
    const { xs, ys } = pointsOf(c);
    const plain = delaunay(xs, ys, 'last');
    expect(plain.triangles.map(key).sort()).not.toEqual(c.triangles.map(key).sort());
  });
});
