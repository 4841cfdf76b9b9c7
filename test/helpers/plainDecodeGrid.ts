// The decode grid computed the plain way, point by point as scipy's loops do: locate each cell by
// scanning the triangles, Gauss-Seidel gradients with every edge term recomputed, the 19-term
// Bernstein sum of the split element, nearest measured point by a full scan. Slow and obvious: the
// oracle that the WebAssembly kernels of src/profile-data must match bit for bit.
import { linspace, type DecodeProfile, type Triangulation } from '../../src/profile-data/index.js';

const INSIDE_EPS = 100 * Number.EPSILON;

export function plainDecodeGrid(profile: DecodeProfile, tri: Triangulation, resolution = 100): { itlMs: Float64Array; thptPerGpu: Float64Array } {
  const xs = profile.kvUsage;
  const ys = profile.contextLength;
  const geometry = tri.triangles.map(([a, b, c]) => {
    const t00 = xs[a]! - xs[c]!, t01 = xs[b]! - xs[c]!;
    const t10 = ys[a]! - ys[c]!, t11 = ys[b]! - ys[c]!;
    const det = t00 * t11 - t01 * t10;
    return { inv: [t11 / det, -t01 / det, -t10 / det, t00 / det], ox: xs[c]!, oy: ys[c]! };
  });
  const barycentric = (t: number, x: number, y: number): [number, number, number] => {
    const g = geometry[t]!;
    const dx = x - g.ox;
    const dy = y - g.oy;
    const b0 = g.inv[0]! * dx + g.inv[1]! * dy;
    const b1 = g.inv[2]! * dx + g.inv[3]! * dy;
    return [b0, b1, 1 - b0 - b1];
  };
  const gammas = tri.triangles.map((_, t) =>
    [0, 1, 2].map((k) => {
      const nb = tri.neighbors[t]![k]!;
      if (nb < 0) return -0.5;
      const [p, q, r] = tri.triangles[nb]!;
      const c = barycentric(t, (xs[p]! + xs[q]! + xs[r]!) / 3, (ys[p]! + ys[q]! + ys[r]!) / 3);
      const j = (k + 1) % 3;
      const l = (k + 2) % 3;
      return (2 * c[l] + c[j] - 1) / (2 - 3 * c[l] - 3 * c[j]);
    }),
  );

  const gradients = (values: number[]): Array<[number, number]> => {
    const n = xs.length;
    const adjacency = Array.from({ length: n }, () => new Set<number>());
    for (const [a, b, c] of tri.triangles) {
      adjacency[a]!.add(b).add(c);
      adjacency[b]!.add(a).add(c);
      adjacency[c]!.add(a).add(b);
    }
    const neighbours = adjacency.map((s) => [...s].sort((u, v) => u - v));
    const grad: Array<[number, number]> = Array.from({ length: n }, () => [0, 0]);
    const isVertex = new Set(tri.vertices);
    for (let sweep = 0; sweep < 400; sweep++) {
      let worst = 0;
      for (let i = 0; i < n; i++) {
        if (!isVertex.has(i)) continue;
        let q00 = 0, q01 = 0, q11 = 0, s0 = 0, s1 = 0;
        for (const j of neighbours[i]!) {
          const ex = xs[j]! - xs[i]!;
          const ey = ys[j]! - ys[i]!;
          const len3 = Math.hypot(ex, ey) ** 3;
          const rhs = 6 * (values[j]! - values[i]!) - 2 * (grad[j]![0] * ex + grad[j]![1] * ey);
          q00 += (4 * ex * ex) / len3;
          q01 += (4 * ex * ey) / len3;
          q11 += (4 * ey * ey) / len3;
          s0 += (rhs * ex) / len3;
          s1 += (rhs * ey) / len3;
        }
        const det = q00 * q11 - q01 * q01;
        const g0 = (q11 * s0 - q01 * s1) / det;
        const g1 = (q00 * s1 - q01 * s0) / det;
        const change = Math.max(Math.abs(grad[i]![0] - g0), Math.abs(grad[i]![1] - g1)) / Math.max(1, Math.abs(g0), Math.abs(g1));
        grad[i] = [g0, g1];
        if (change > worst) worst = change;
      }
      if (worst < 1e-6) break;
    }
    return grad;
  };

  // Bezier ordinates indexed by ord(i, j, k, l): exponents on vertices 0, 1, 2 and the centroid.
  const ord = (i: number, j: number, k: number, l: number) => i * 64 + j * 16 + k * 4 + l;
  const ord2 = (a: number, n: number, b: number, m: number) => {
    const e = [0, 0, 0, 0];
    e[a] = n;
    e[b] = m;
    return ord(e[0]!, e[1]!, e[2]!, e[3]!);
  };
  const edgeMid = (j: number, l: number) => ord2(j, 1, l, 1) + 1;
  const controlNet = (values: number[], grad: Array<[number, number]>, t: number): Float64Array => {
    const v = tri.triangles[t]!;
    const f = v.map((i) => values[i]!);
    const c = new Float64Array(256);
    for (let a = 0; a < 3; a++) {
      c[ord2(a, 3, 3, 0)] = f[a]!;
      for (let b = 0; b < 3; b++) {
        if (b === a) continue;
        const rise = grad[v[a]!]![0] * (xs[v[b]!]! - xs[v[a]!]!) + grad[v[a]!]![1] * (ys[v[b]!]! - ys[v[a]!]!);
        c[ord2(a, 2, b, 1)] = f[a]! + rise / 3;
      }
    }
    for (let a = 0; a < 3; a++) c[ord2(a, 2, 3, 1)] = (f[a]! + c[ord2(a, 2, (a + 1) % 3, 1)]! + c[ord2(a, 2, (a + 2) % 3, 1)]!) / 3;
    for (let k = 0; k < 3; k++) {
      const j = (k + 1) % 3, l = (k + 2) % 3;
      const e0 = f[j]!, e1 = c[ord2(j, 2, l, 1)]!, e2 = c[ord2(j, 1, l, 2)]!, e3 = f[l]!;
      const thirdDiff = -e0 + 3 * e1 - 3 * e2 + e3;
      c[edgeMid(j, l)] = (gammas[t]![k]! * thirdDiff + (-e0 + 2 * e1 - e2 + c[ord2(j, 2, 3, 1)]! + c[ord2(l, 2, 3, 1)]!)) / 2;
    }
    for (let a = 0; a < 3; a++) c[ord2(a, 1, 3, 2)] = (c[edgeMid(a, (a + 1) % 3)]! + c[edgeMid(a, (a + 2) % 3)]! + c[ord2(a, 2, 3, 1)]!) / 3;
    c[ord(0, 0, 0, 3)] = (c[ord(1, 0, 0, 2)]! + c[ord(0, 1, 0, 2)]! + c[ord(0, 0, 1, 2)]!) / 3;
    return c;
  };
  const fact = [1, 1, 2, 6];
  const terms: Array<[number, number, number, number]> = [];
  for (let i = 0; i <= 3; i++) for (let j = 0; j <= 3 - i; j++) for (let k = 0; k <= 3 - i - j; k++) if (!(i === 1 && j === 1 && k === 1)) terms.push([i, j, k, 3 - i - j - k]);
  const bezier = (c: Float64Array, w: number[]): number => {
    const pw = w.map((v) => [1, v, v * v, v * v * v]);
    let sum = 0;
    for (const e of terms) {
      const p = (6 / (fact[e[0]]! * fact[e[1]]! * fact[e[2]]! * fact[e[3]]!)) * pw[0]![e[0]]! * pw[1]![e[1]]! * pw[2]![e[2]]! * pw[3]![e[3]]!;
      if (p !== 0) sum += p * c[ord(e[0], e[1], e[2], e[3])]!;
    }
    return sum;
  };

  const vx = tri.vertices.map((i) => xs[i]!);
  const vy = tri.vertices.map((i) => ys[i]!);
  const [minX, maxX, minY, maxY] = [Math.min(...vx), Math.max(...vx), Math.min(...vy), Math.max(...vy)];
  const locate = (x: number, y: number): number => {
    if (x < minX - INSIDE_EPS || x > maxX + INSIDE_EPS || y < minY - INSIDE_EPS || y > maxY + INSIDE_EPS) return -1;
    return tri.triangles.findIndex((_, t) => barycentric(t, x, y).every((b) => b >= -INSIDE_EPS));
  };
  const nearest = (x: number, y: number): number => {
    let best = -1;
    let bestD = Infinity;
    xs.forEach((px, i) => {
      const dx = px - x;
      const dy = ys[i]! - y;
      const d = dx * dx + dy * dy;
      if (d <= bestD) [best, bestD] = [i, d];
    });
    return best;
  };

  const gx = linspace(0, 1, resolution);
  const gy = linspace(0, Math.max(...ys), resolution);
  const fields = [profile.itlMs, profile.thptPerGpu].map((values) => {
    const grad = gradients(values);
    return { values, nets: tri.triangles.map((_, t) => controlNet(values, grad, t)), grid: new Float64Array(resolution * resolution) };
  });
  for (let iy = 0; iy < resolution; iy++) {
    for (let ix = 0; ix < resolution; ix++) {
      const t = locate(gx[ix]!, gy[iy]!);
      const b = t < 0 ? [] : barycentric(t, gx[ix]!, gy[iy]!);
      const m = Math.min(...b);
      const at = fields.map((f) => (t < 0 ? NaN : bezier(f.nets[t]!, [b[0]! - m, b[1]! - m, b[2]! - m, 3 * m])));
      const n = at.some(Number.isNaN) ? nearest(gx[ix]!, gy[iy]!) : -1;
      fields.forEach((f, k) => (f.grid[iy * resolution + ix] = Number.isNaN(at[k]) ? f.values[n]! : at[k]!));
    }
  }
  return { itlMs: fields[0]!.grid, thptPerGpu: fields[1]!.grid };
}
