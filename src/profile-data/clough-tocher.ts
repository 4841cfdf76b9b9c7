// Piecewise-cubic C1 interpolation of scattered 2-D data (the Clough-Tocher element), with the
// same choices scipy's griddata(method="cubic") makes, so the decode grid matches the original:
//  - vertex gradients from a global fit that minimises the squared second derivative of the
//    cubic along every triangulation edge (Nielson's method), solved by Gauss-Seidel sweeps over
//    the points in input order, starting from zero, until the relative change is below 1e-6
//    (at most 400 sweeps);
//  - each triangle is split at its centroid into three cubic Bezier patches; the cross-edge
//    derivative is made linear along each edge in the direction joining the two adjacent
//    triangles' centroids (affine invariant), or towards the own centroid on the hull;
//  - a query point counts as inside a triangle when its barycentric coordinates are all
//    >= -100 * machine epsilon; outside the convex hull the result is NaN (callers fill it).
import { delaunay, type Triangulation } from './delaunay.js';

const INSIDE_EPS = 100 * Number.EPSILON;
const GRADIENT_TOL = 1e-6;
const GRADIENT_MAX_SWEEPS = 400;

interface TriangleGeometry {
  // Inverse of [[x0-x2, x1-x2], [y0-y2, y1-y2]] and the origin vertex (x2, y2).
  inv: [number, number, number, number];
  ox: number;
  oy: number;
}

export class CloughTocher2D {
  readonly tri: Triangulation;
  private readonly xs: number[];
  private readonly ys: number[];
  private readonly geometry: TriangleGeometry[];
  /** Per-triangle edge parameters gamma[k] for the edge opposite vertex k. */
  private readonly gammas: Array<[number, number, number]>;
  private readonly minX: number;
  private readonly maxX: number;
  private readonly minY: number;
  private readonly maxY: number;

  /** `triangulation` defaults to the Delaunay triangulation of the points. */
  constructor(xs: number[], ys: number[], triangulation?: Triangulation) {
    this.xs = xs;
    this.ys = ys;
    this.tri = triangulation ?? delaunay(xs, ys);
    this.geometry = this.tri.triangles.map(([a, b, c]) => {
      const t00 = xs[a]! - xs[c]!, t01 = xs[b]! - xs[c]!;
      const t10 = ys[a]! - ys[c]!, t11 = ys[b]! - ys[c]!;
      const det = t00 * t11 - t01 * t10;
      return { inv: [t11 / det, -t01 / det, -t10 / det, t00 / det], ox: xs[c]!, oy: ys[c]! };
    });
    this.gammas = this.tri.triangles.map((_, t) => this.edgeGammas(t));
    const vx = this.tri.vertices.map((i) => xs[i]!);
    const vy = this.tri.vertices.map((i) => ys[i]!);
    this.minX = Math.min(...vx);
    this.maxX = Math.max(...vx);
    this.minY = Math.min(...vy);
    this.maxY = Math.max(...vy);
  }

  private barycentric(t: number, x: number, y: number): [number, number, number] {
    const g = this.geometry[t]!;
    const dx = x - g.ox;
    const dy = y - g.oy;
    const b0 = g.inv[0] * dx + g.inv[1] * dy;
    const b1 = g.inv[2] * dx + g.inv[3] * dy;
    return [b0, b1, 1 - b0 - b1];
  }

  /**
   * gamma for the edge opposite vertex k: the neighbour-centroid direction written as
   * (centroid - V_j) + gamma * (V_l - V_j) for the edge V_j -> V_l (cyclic order); -1/2 (the own
   * centroid direction) on a hull edge.
   */
  private edgeGammas(t: number): [number, number, number] {
    const out: [number, number, number] = [-0.5, -0.5, -0.5];
    for (let k = 0; k < 3; k++) {
      const nb = this.tri.neighbors[t]![k]!;
      if (nb < 0) continue;
      const [p, q, r] = this.tri.triangles[nb]!;
      const cx = (this.xs[p]! + this.xs[q]! + this.xs[r]!) / 3;
      const cy = (this.ys[p]! + this.ys[q]! + this.ys[r]!) / 3;
      const c = this.barycentric(t, cx, cy);
      const j = (k + 1) % 3;
      const l = (k + 2) % 3;
      out[k] = (2 * c[l] + c[j] - 1) / (2 - 3 * c[l] - 3 * c[j]);
    }
    return out;
  }

  /** Vertex gradients (index = input point index; non-vertices stay [NaN, NaN]). */
  estimateGradients(values: number[]): Array<[number, number]> {
    const n = this.xs.length;
    const adjacency: Array<Set<number>> = Array.from({ length: n }, () => new Set<number>());
    for (const [a, b, c] of this.tri.triangles) {
      adjacency[a]!.add(b).add(c);
      adjacency[b]!.add(a).add(c);
      adjacency[c]!.add(a).add(b);
    }
    const neighbours = adjacency.map((s) => [...s].sort((u, v) => u - v));
    const grad: Array<[number, number]> = Array.from({ length: n }, () => [0, 0]);
    const isVertex = new Array<boolean>(n).fill(false);
    for (const v of this.tri.vertices) isVertex[v] = true;
    for (let sweep = 0; sweep < GRADIENT_MAX_SWEEPS; sweep++) {
      let worst = 0;
      for (let i = 0; i < n; i++) {
        if (!isVertex[i]) continue;
        // Normal equations of sum over edges (i, j) of the integral of the squared second
        // derivative of the edge cubic, as a function of i's gradient (others fixed).
        let q00 = 0, q01 = 0, q11 = 0, s0 = 0, s1 = 0;
        for (const j of neighbours[i]!) {
          const ex = this.xs[j]! - this.xs[i]!;
          const ey = this.ys[j]! - this.ys[i]!;
          const len3 = Math.hypot(ex, ey) ** 3;
          const slopeAtJ = grad[j]![0] * ex + grad[j]![1] * ey;
          const rhs = 6 * (values[j]! - values[i]!) - 2 * slopeAtJ;
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
      if (worst < GRADIENT_TOL) break;
    }
    for (let i = 0; i < n; i++) if (!isVertex[i]) grad[i] = [NaN, NaN];
    return grad;
  }

  /** Index of a triangle containing (x, y) within the tolerance, or -1 outside the hull. */
  locate(x: number, y: number): number {
    if (x < this.minX - INSIDE_EPS || x > this.maxX + INSIDE_EPS || y < this.minY - INSIDE_EPS || y > this.maxY + INSIDE_EPS) return -1;
    for (let t = 0; t < this.geometry.length; t++) {
      const b = this.barycentric(t, x, y);
      if (b[0] >= -INSIDE_EPS && b[1] >= -INSIDE_EPS && b[2] >= -INSIDE_EPS) return t;
    }
    return -1;
  }

  /**
   * A field ready to evaluate: vertex gradients estimated once, and each triangle's Bezier
   * control net built on first use.
   */
  field(values: number[]): (x: number, y: number, t?: number) => number {
    const grad = this.estimateGradients(values);
    const nets: Array<Float64Array | undefined> = new Array(this.tri.triangles.length);
    return (x, y, t = this.locate(x, y)) => {
      if (t < 0) return NaN;
      const net = (nets[t] ??= this.controlNet(values, grad, t));
      // The micro-triangle holding the point is the one facing the vertex with the smallest
      // barycentric coordinate; in its coordinates that vertex's weight moves to the centroid.
      const b = this.barycentric(t, x, y);
      const m = Math.min(b[0], b[1], b[2]);
      return evalBezier(net, b[0] - m, b[1] - m, b[2] - m, 3 * m);
    };
  }

  /** Interpolate values (gradients from estimateGradients) at (x, y); NaN outside the hull. */
  evaluate(values: number[], grad: Array<[number, number]>, x: number, y: number, t = this.locate(x, y)): number {
    if (t < 0) return NaN;
    const b = this.barycentric(t, x, y);
    const m = Math.min(b[0], b[1], b[2]);
    return evalBezier(this.controlNet(values, grad, t), b[0] - m, b[1] - m, b[2] - m, 3 * m);
  }

  /**
   * Bezier ordinates of the split triangle t, indexed by ord(i, j, k, l): the exponents of the
   * barycentric weights of vertices 0, 1, 2 and the centroid.
   */
  private controlNet(values: number[], grad: Array<[number, number]>, t: number): Float64Array {
    const v = this.tri.triangles[t]!;
    const px = v.map((i) => this.xs[i]!);
    const py = v.map((i) => this.ys[i]!);
    const f = v.map((i) => values[i]!);
    const G = v.map((i) => grad[i]!);
    const c = new Float64Array(256);
    // e(a, n) + e(b, m): exponent tuple with n on vertex a and m on vertex b (3 = centroid).
    const ord2 = (a: number, n: number, b: number, m: number) => ord(a === 0 ? n : b === 0 ? m : 0, a === 1 ? n : b === 1 ? m : 0, a === 2 ? n : b === 2 ? m : 0, a === 3 ? n : b === 3 ? m : 0);
    const edgeMid = (j: number, l: number) => ord(j === 0 || l === 0 ? 1 : 0, j === 1 || l === 1 ? 1 : 0, j === 2 || l === 2 ? 1 : 0, 1);
    for (let a = 0; a < 3; a++) {
      c[ord2(a, 3, 3, 0)] = f[a]!;
      // Along edge a->b: the vertex value plus a third of the tangent plane's rise to b.
      for (let b = 0; b < 3; b++) {
        if (b === a) continue;
        const rise = G[a]![0] * (px[b]! - px[a]!) + G[a]![1] * (py[b]! - py[a]!);
        c[ord2(a, 2, b, 1)] = f[a]! + rise / 3;
      }
    }
    // Towards the centroid from each vertex: the tangent plane a third of the way there.
    for (let a = 0; a < 3; a++) {
      const b = (a + 1) % 3, d = (a + 2) % 3;
      c[ord2(a, 2, 3, 1)] = (f[a]! + c[ord2(a, 2, b, 1)]! + c[ord2(a, 2, d, 1)]!) / 3;
    }
    // Inner ordinate beside each edge j->l (opposite k): makes the derivative across the edge,
    // along the gamma direction, linear in the edge parameter (C1 with the neighbour).
    const gam = this.gammas[t]!;
    for (let k = 0; k < 3; k++) {
      const j = (k + 1) % 3, l = (k + 2) % 3;
      const e0 = f[j]!;
      const e1 = c[ord2(j, 2, l, 1)]!;
      const e2 = c[ord2(j, 1, l, 2)]!;
      const e3 = f[l]!;
      const inJ = c[ord2(j, 2, 3, 1)]!;
      const inL = c[ord2(l, 2, 3, 1)]!;
      const thirdDiff = -e0 + 3 * e1 - 3 * e2 + e3;
      c[edgeMid(j, l)] = (gam[k]! * thirdDiff + (-e0 + 2 * e1 - e2 + inJ + inL)) / 2;
    }
    // C1 across the inner edges to the centroid: averages of the surrounding ordinates.
    for (let a = 0; a < 3; a++) {
      const b = (a + 1) % 3, d = (a + 2) % 3;
      c[ord2(a, 1, 3, 2)] = (c[edgeMid(a, b)]! + c[edgeMid(a, d)]! + c[ord2(a, 2, 3, 1)]!) / 3;
    }
    c[ord(0, 0, 0, 3)] = (c[ord(1, 0, 0, 2)]! + c[ord(0, 1, 0, 2)]! + c[ord(0, 0, 1, 2)]!) / 3;
    return c;
  }
}

function ord(i: number, j: number, k: number, l: number): number {
  return i * 64 + j * 16 + k * 4 + l;
}

const CUBIC_TERMS: Array<{ index: number; i: number; j: number; k: number; l: number; coef: number }> = (() => {
  const fact = [1, 1, 2, 6];
  const out: Array<{ index: number; i: number; j: number; k: number; l: number; coef: number }> = [];
  for (let i = 0; i <= 3; i++)
    for (let j = 0; j <= 3 - i; j++)
      for (let k = 0; k <= 3 - i - j; k++) {
        const l = 3 - i - j - k;
        // The face ordinate (1,1,1,0) is not part of the split element; its weight is always 0.
        if (l === 0 && i === 1 && j === 1 && k === 1) continue;
        out.push({ index: ord(i, j, k, l), i, j, k, l, coef: 6 / (fact[i]! * fact[j]! * fact[k]! * fact[l]!) });
      }
  return out;
})();

/** Cubic Bernstein form in 4 weights, one of which is zero. */
function evalBezier(c: Float64Array, w0: number, w1: number, w2: number, w3: number): number {
  const p0 = [1, w0, w0 * w0, w0 * w0 * w0];
  const p1 = [1, w1, w1 * w1, w1 * w1 * w1];
  const p2 = [1, w2, w2 * w2, w2 * w2 * w2];
  const p3 = [1, w3, w3 * w3, w3 * w3 * w3];
  let sum = 0;
  for (const term of CUBIC_TERMS) {
    const p = term.coef * p0[term.i]! * p1[term.j]! * p2[term.k]! * p3[term.l]!;
    if (p !== 0) sum += p * c[term.index]!;
  }
  return sum;
}

export { type Triangulation };
