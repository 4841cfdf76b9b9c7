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

  /** Interpolate values (with gradients from estimateGradients) at (x, y); NaN outside the hull. */
  evaluate(values: number[], grad: Array<[number, number]>, x: number, y: number, t = this.locate(x, y)): number {
    if (t < 0) return NaN;
    const v = this.tri.triangles[t]!;
    const P = v.map((i) => [this.xs[i]!, this.ys[i]!] as const);
    const f = v.map((i) => values[i]!);
    const G = v.map((i) => grad[i]!);
    // Directional derivative of vertex a's tangent plane towards vertex b.
    const slope = (a: number, b: number) => G[a]![0] * (P[b]![0] - P[a]![0]) + G[a]![1] * (P[b]![1] - P[a]![1]);
    // Bezier ordinates, indexed by the exponents of (b0, b1, b2, bCentroid); see evalBezier.
    // Along edge a->b: vertex value, then one third of the tangent slope.
    const near = (a: number, b: number) => f[a]! + slope(a, b) / 3;
    const c = new Map<string, number>();
    const id = (e: number[]) => e.join('');
    const unit = (k: number, w: number) => [0, 0, 0, 0].map((_, i) => (i === k ? w : 0));
    const put = (e: number[], val: number) => c.set(id(e), val);
    const get = (e: number[]) => c.get(id(e))!;
    for (let a = 0; a < 3; a++) {
      put(unit(a, 3), f[a]!);
      for (let b = 0; b < 3; b++) if (b !== a) put(addExp(unit(a, 2), unit(b, 1)), near(a, b));
    }
    // Towards the centroid from each vertex: the tangent plane a third of the way there.
    for (let a = 0; a < 3; a++) {
      const b = (a + 1) % 3, d = (a + 2) % 3;
      put(addExp(unit(a, 2), unit(3, 1)), (f[a]! + near(a, b) + near(a, d)) / 3);
    }
    // Inner ordinate beside each edge j->l (opposite k): makes the derivative across the edge,
    // along the gamma direction, linear in the edge parameter (C1 with the neighbour).
    const gam = this.gammas[t]!;
    for (let k = 0; k < 3; k++) {
      const j = (k + 1) % 3, l = (k + 2) % 3;
      const e0 = get(unit(j, 3));
      const e1 = get(addExp(unit(j, 2), unit(l, 1)));
      const e2 = get(addExp(unit(j, 1), unit(l, 2)));
      const e3 = get(unit(l, 3));
      const inJ = get(addExp(unit(j, 2), unit(3, 1)));
      const inL = get(addExp(unit(l, 2), unit(3, 1)));
      const thirdDiff = -e0 + 3 * e1 - 3 * e2 + e3;
      put(addExp(addExp(unit(j, 1), unit(l, 1)), unit(3, 1)), (gam[k]! * thirdDiff + (-e0 + 2 * e1 - e2 + inJ + inL)) / 2);
    }
    // C1 across the inner edges to the centroid: averages of the surrounding ordinates.
    for (let a = 0; a < 3; a++) {
      const b = (a + 1) % 3, d = (a + 2) % 3;
      const ab = get(addExp(addExp(unit(a, 1), unit(b, 1)), unit(3, 1)));
      const ad = get(addExp(addExp(unit(a, 1), unit(d, 1)), unit(3, 1)));
      put(addExp(unit(a, 1), unit(3, 2)), (ab + ad + get(addExp(unit(a, 2), unit(3, 1)))) / 3);
    }
    put(unit(3, 3), (get(addExp(unit(0, 1), unit(3, 2))) + get(addExp(unit(1, 1), unit(3, 2))) + get(addExp(unit(2, 1), unit(3, 2)))) / 3);

    // The micro-triangle holding the point is the one facing the vertex with the smallest
    // barycentric coordinate; in its coordinates that vertex's weight moves to the centroid.
    const b = this.barycentric(t, x, y);
    const m = Math.min(b[0], b[1], b[2]);
    return evalBezier(c, [b[0] - m, b[1] - m, b[2] - m, 3 * m]);
  }
}

function addExp(a: number[], b: number[]): number[] {
  return a.map((v, i) => v + b[i]!);
}

const CUBIC_TERMS: Array<{ key: string; exps: number[]; coef: number }> = (() => {
  const fact = [1, 1, 2, 6];
  const out: Array<{ key: string; exps: number[]; coef: number }> = [];
  for (let i = 0; i <= 3; i++)
    for (let j = 0; j <= 3 - i; j++)
      for (let k = 0; k <= 3 - i - j; k++) {
        const l = 3 - i - j - k;
        out.push({ key: `${i}${j}${k}${l}`, exps: [i, j, k, l], coef: 6 / (fact[i]! * fact[j]! * fact[k]! * fact[l]!) });
      }
  return out;
})();

/** Cubic Bernstein form in 4 coordinates (one is zero); missing ordinates only meet zero weights. */
function evalBezier(c: Map<string, number>, w: number[]): number {
  let sum = 0;
  for (const term of CUBIC_TERMS) {
    let p = term.coef;
    for (let i = 0; i < 4; i++) p *= w[i]! ** term.exps[i]!;
    if (p === 0) continue;
    const v = c.get(term.key);
    if (v === undefined) continue;
    sum += p * v;
  }
  return sum;
}

export { type Triangulation };
