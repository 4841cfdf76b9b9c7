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
// The gradient sweeps and the evaluation run in WebAssembly kernels (wasm-kernels.ts), with the
// same arithmetic in the same order, so every value is bit for bit what a plain loop computes.
import { KernelHeap, wasmKernels } from './wasm-kernels.js';
import { delaunay, type Triangulation } from './delaunay.js';

const INSIDE_EPS = 100 * Number.EPSILON;
const GRADIENT_TOL = 1e-6;
const GRADIENT_MAX_SWEEPS = 400;
/**
 * A point passing the inside test lies within ~1e-13 of the triangle's diameter outside it; a
 * grid cell is tested against a triangle only within this (far wider) margin of its bounding box.
 */
const GRID_CANDIDATE_MARGIN = 1e-9;

/** Edges of the triangulation around each vertex, with the geometry the gradient fit reuses. */
interface EdgeFit {
  /** Edges of vertex i: start[i] .. start[i + 1] - 1, neighbours in ascending index order. */
  start: Int32Array;
  to: Int32Array;
  ex: Float64Array;
  ey: Float64Array;
  len3: Float64Array;
  /** Per vertex: the normal-equation matrix [q00, q01, q11] and its determinant. */
  q00: Float64Array;
  q01: Float64Array;
  q11: Float64Array;
  det: Float64Array;
  isVertex: Uint8Array;
}

export class CloughTocher2D {
  readonly tri: Triangulation;
  private readonly xs: number[];
  private readonly ys: number[];
  /** Per triangle t at 6t: the inverse of [[x0-x2, x1-x2], [y0-y2, y1-y2]], then (x2, y2). */
  private readonly geometry: Float64Array;
  /** Per-triangle edge parameters gamma at 3t + k for the edge opposite vertex k. */
  private readonly gammas: Float64Array;
  private readonly edgeFit: EdgeFit;
  /** Per triangle t at 4t: its bounding box (x0, x1, y0, y1) widened by the candidate margin. */
  private readonly boxes: Float64Array;
  private readonly minX: number;
  private readonly maxX: number;
  private readonly minY: number;
  private readonly maxY: number;

  /** `triangulation` defaults to the Delaunay triangulation of the points. */
  constructor(xs: number[], ys: number[], triangulation?: Triangulation) {
    this.xs = xs;
    this.ys = ys;
    this.tri = triangulation ?? delaunay(xs, ys);
    const triangles = this.tri.triangles;
    this.geometry = new Float64Array(6 * triangles.length);
    for (let t = 0; t < triangles.length; t++) {
      const [a, b, c] = triangles[t]!;
      const t00 = xs[a]! - xs[c]!, t01 = xs[b]! - xs[c]!;
      const t10 = ys[a]! - ys[c]!, t11 = ys[b]! - ys[c]!;
      const det = t00 * t11 - t01 * t10;
      this.geometry.set([t11 / det, -t01 / det, -t10 / det, t00 / det, xs[c]!, ys[c]!], 6 * t);
    }
    this.gammas = new Float64Array(3 * triangles.length);
    for (let t = 0; t < triangles.length; t++) this.edgeGammas(t);
    this.edgeFit = this.edges();
    this.boxes = new Float64Array(4 * triangles.length);
    for (let t = 0; t < triangles.length; t++) {
      const [a, b, c] = triangles[t]!;
      const x0 = Math.min(xs[a]!, xs[b]!, xs[c]!), x1 = Math.max(xs[a]!, xs[b]!, xs[c]!);
      const y0 = Math.min(ys[a]!, ys[b]!, ys[c]!), y1 = Math.max(ys[a]!, ys[b]!, ys[c]!);
      const margin = GRID_CANDIDATE_MARGIN * (x1 - x0 + (y1 - y0));
      this.boxes.set([x0 - margin, x1 + margin, y0 - margin, y1 + margin], 4 * t);
    }
    let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
    for (const i of this.tri.vertices) {
      minX = Math.min(minX, xs[i]!);
      maxX = Math.max(maxX, xs[i]!);
      minY = Math.min(minY, ys[i]!);
      maxY = Math.max(maxY, ys[i]!);
    }
    this.minX = minX;
    this.maxX = maxX;
    this.minY = minY;
    this.maxY = maxY;
  }

  private barycentric(t: number, x: number, y: number): [number, number, number] {
    const g = this.geometry;
    const o = 6 * t;
    const dx = x - g[o + 4]!;
    const dy = y - g[o + 5]!;
    const b0 = g[o]! * dx + g[o + 1]! * dy;
    const b1 = g[o + 2]! * dx + g[o + 3]! * dy;
    return [b0, b1, 1 - b0 - b1];
  }

  /**
   * gamma for the edge opposite vertex k: the neighbour-centroid direction written as
   * (centroid - V_j) + gamma * (V_l - V_j) for the edge V_j -> V_l (cyclic order); -1/2 (the own
   * centroid direction) on a hull edge.
   */
  private edgeGammas(t: number): void {
    for (let k = 0; k < 3; k++) {
      const nb = this.tri.neighbors[t]![k]!;
      if (nb < 0) {
        this.gammas[3 * t + k] = -0.5;
        continue;
      }
      const [p, q, r] = this.tri.triangles[nb]!;
      const cx = (this.xs[p]! + this.xs[q]! + this.xs[r]!) / 3;
      const cy = (this.ys[p]! + this.ys[q]! + this.ys[r]!) / 3;
      const c = this.barycentric(t, cx, cy);
      const j = (k + 1) % 3;
      const l = (k + 2) % 3;
      this.gammas[3 * t + k] = (2 * c[l] + c[j] - 1) / (2 - 3 * c[l] - 3 * c[j]);
    }
  }

  /** The edges around each vertex and the parts of the gradient fit that depend on geometry only. */
  private edges(): EdgeFit {
    const n = this.xs.length;
    const adjacency: number[][] = Array.from({ length: n }, () => []);
    const link = (u: number, v: number) => {
      if (!adjacency[u]!.includes(v)) adjacency[u]!.push(v);
    };
    for (const [a, b, c] of this.tri.triangles) {
      link(a, b);
      link(a, c);
      link(b, a);
      link(b, c);
      link(c, a);
      link(c, b);
    }
    const start = new Int32Array(n + 1);
    for (let i = 0; i < n; i++) start[i + 1] = start[i]! + adjacency[i]!.length;
    const m = start[n]!;
    const fit: EdgeFit = {
      start, to: new Int32Array(m), ex: new Float64Array(m), ey: new Float64Array(m), len3: new Float64Array(m),
      q00: new Float64Array(n), q01: new Float64Array(n), q11: new Float64Array(n), det: new Float64Array(n), isVertex: new Uint8Array(n),
    };
    for (const v of this.tri.vertices) fit.isVertex[v] = 1;
    for (let i = 0; i < n; i++) {
      const neighbours = adjacency[i]!.sort((u, v) => u - v);
      let q00 = 0, q01 = 0, q11 = 0;
      for (let k = 0; k < neighbours.length; k++) {
        const j = neighbours[k]!;
        const e = start[i]! + k;
        const ex = this.xs[j]! - this.xs[i]!;
        const ey = this.ys[j]! - this.ys[i]!;
        const len3 = Math.hypot(ex, ey) ** 3;
        fit.to[e] = j;
        fit.ex[e] = ex;
        fit.ey[e] = ey;
        fit.len3[e] = len3;
        q00 += (4 * ex * ex) / len3;
        q01 += (4 * ex * ey) / len3;
        q11 += (4 * ey * ey) / len3;
      }
      fit.q00[i] = q00;
      fit.q01[i] = q01;
      fit.q11[i] = q11;
      fit.det[i] = q00 * q11 - q01 * q01;
    }
    return fit;
  }

  /** Vertex gradients (index = input point index; non-vertices stay [NaN, NaN]). */
  estimateGradients(values: number[]): Array<[number, number]> {
    const g = this.gradients(values);
    return Array.from({ length: this.xs.length }, (_, i) => [g[2 * i]!, g[2 * i + 1]!]);
  }

  /** estimateGradients as a flat array: the gradient of point i at 2i, 2i + 1. */
  private gradients(values: number[]): Float64Array {
    const n = this.xs.length;
    const fit = this.edgeFit;
    const m = fit.to.length;
    const heap = new KernelHeap()
      .f64('ex', m).f64('ey', m).f64('len3', m).f64('rise6', m)
      .f64('q00', n).f64('q01', n).f64('q11', n).f64('det', n).f64('gx', n).f64('gy', n)
      .i32('start', n + 1).i32('to', m).u8('isVertex', n)
      .build();
    const { f64, i32, u8, at } = heap;
    for (const name of ['ex', 'ey', 'len3', 'q00', 'q01', 'q11', 'det'] as const) f64.set(fit[name], at[name]);
    i32.set(fit.start, at.start);
    i32.set(fit.to, at.to);
    u8.set(fit.isVertex, at.isVertex);
    // 6 (f_j - f_i) per edge, which every sweep reuses.
    for (let i = 0; i < n; i++) for (let e = fit.start[i]!; e < fit.start[i + 1]!; e++) f64[at.rise6! + e] = 6 * (values[fit.to[e]!]! - values[i]!);
    wasmKernels(heap.memory).gaussSeidel(n, GRADIENT_MAX_SWEEPS, GRADIENT_TOL, at.start!, at.to!, at.ex!, at.ey!, at.len3!, at.q00!, at.q01!, at.q11!, at.det!, at.isVertex!, at.rise6!, at.gx!, at.gy!);
    const grad = new Float64Array(2 * n);
    for (let i = 0; i < n; i++) {
      grad[2 * i] = fit.isVertex[i] ? f64[at.gx! + i]! : NaN;
      grad[2 * i + 1] = fit.isVertex[i] ? f64[at.gy! + i]! : NaN;
    }
    return grad;
  }

  private inBounds(x: number, y: number): boolean {
    return !(x < this.minX - INSIDE_EPS || x > this.maxX + INSIDE_EPS || y < this.minY - INSIDE_EPS || y > this.maxY + INSIDE_EPS);
  }

  /** Index of a triangle containing (x, y) within the tolerance, or -1 outside the hull. */
  locate(x: number, y: number): number {
    if (!this.inBounds(x, y)) return -1;
    const count = this.tri.triangles.length;
    for (let t = 0; t < count; t++) {
      const b = this.barycentric(t, x, y);
      if (b[0] >= -INSIDE_EPS && b[1] >= -INSIDE_EPS && b[2] >= -INSIDE_EPS) return t;
    }
    return -1;
  }

  /**
   * Several fields on the grid gx x gy (both ascending) at once, each as [iy * gx.length + ix]:
   * the values field() gives point by point, NaN outside the hull.
   */
  evaluateGrid(gx: readonly number[], gy: readonly number[], fields: number[][]): Float64Array[] {
    return this.gridEvaluator(fields.map((values) => this.controlNets(values)), gx.length, gy.length)(gx, gy);
  }

  /** A field ready to evaluate point by point: vertex gradients and control nets built once. */
  field(values: number[]): (x: number, y: number) => number {
    const evaluate = this.gridEvaluator([this.controlNets(values)], 1, 1);
    return (x, y) => evaluate([x], [y])[0]![0]!;
  }

  /**
   * Evaluation of fields (given by their control nets) on grids of nx x ny points, by the
   * claimGrid kernel: instead of locating each cell by scanning the triangles, each triangle in
   * index order claims the still unclaimed cells within its candidate box that pass its inside
   * test, which is the same first match as locate()'s scan (a point passing the test lies within
   * ~1e-13 of the triangle's size outside it, far inside the box's margin). Cells outside the
   * vertices' bounding box (widened by the test's tolerance) stay unclaimed, as locate() has it.
   */
  private gridEvaluator(nets: Float64Array[], nx: number, ny: number): (gx: readonly number[], gy: readonly number[]) => Float64Array[] {
    const count = this.tri.triangles.length;
    const cells = nx * ny;
    const heap = new KernelHeap()
      .f64('geometry', 6 * count).f64('gx', nx).f64('gy', ny).f64('nets', nets.length * NET_SIZE * count)
      .f64('out', nets.length * cells).f64('col0', nx).f64('col1', nx)
      .i32('box', 4 * count).u8('okX', nx).u8('okY', ny).u8('claimed', cells)
      .build();
    const { f64, i32, u8, at } = heap;
    f64.set(this.geometry, at.geometry);
    nets.forEach((net, f) => f64.set(net, at.nets! + f * NET_SIZE * count));
    const kernels = wasmKernels(heap.memory);
    return (gx, gy) => {
      if (gx.length !== nx || gy.length !== ny) throw new Error(`evaluateGrid: a ${nx}x${ny} grid expected`);
      for (const axis of [gx, gy]) for (let i = 1; i < axis.length; i++) if (!(axis[i]! >= axis[i - 1]!)) throw new Error('evaluateGrid: grid axes must be ascending');
      f64.set(gx, at.gx);
      f64.set(gy, at.gy);
      for (let ix = 0; ix < nx; ix++) u8[at.okX! + ix] = this.inBounds(gx[ix]!, this.minY) ? 1 : 0;
      for (let iy = 0; iy < ny; iy++) u8[at.okY! + iy] = this.inBounds(this.minX, gy[iy]!) ? 1 : 0;
      for (let t = 0; t < count; t++) {
        const box = this.boxes.subarray(4 * t, 4 * t + 4);
        i32.set([firstAbove(gx, box[0]!, true), firstAbove(gx, box[1]!, false), firstAbove(gy, box[2]!, true), firstAbove(gy, box[3]!, false)], at.box! + 4 * t);
      }
      u8.fill(0, at.claimed!, at.claimed! + cells);
      f64.fill(NaN, at.out!, at.out! + nets.length * cells);
      kernels.claimGrid(count, nx, nets.length, at.geometry!, at.box!, at.gx!, at.gy!, at.okX!, at.okY!, at.nets!, NET_SIZE * count, at.out!, cells, at.claimed!, at.col0!, at.col1!, -INSIDE_EPS);
      return nets.map((_, f) => f64.slice(at.out! + f * cells, at.out! + (f + 1) * cells));
    };
  }

  /** The control nets of every triangle for `values`, triangle t's at NET_SIZE * t. */
  private controlNets(values: number[]): Float64Array {
    const grad = this.gradients(values);
    const count = this.tri.triangles.length;
    const nets = new Float64Array(NET_SIZE * count);
    for (let t = 0; t < count; t++) nets.set(this.controlNet(values, grad, t), NET_SIZE * t);
    return nets;
  }

  /**
   * Bezier ordinates of the split triangle t, as the nets of its three micro-triangles (see
   * MICRO_NET). Built indexed by ord(i, j, k, l): the exponents of the barycentric weights of
   * vertices 0, 1, 2 and the centroid.
   */
  private controlNet(values: number[], grad: Float64Array, t: number): Float64Array {
    const v = this.tri.triangles[t]!;
    const px = v.map((i) => this.xs[i]!);
    const py = v.map((i) => this.ys[i]!);
    const f = v.map((i) => values[i]!);
    const G = v.map((i) => [grad[2 * i]!, grad[2 * i + 1]!] as const);
    const c = scratchNet;
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
    const gam = this.gammas.subarray(3 * t, 3 * t + 3);
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
    return Float64Array.from(MICRO_NET, (i) => c[i]!);
  }
}

/**
 * First index of an ascending axis with a value above v (or equal, with orEqual); axis.length if
 * none.
 */
function firstAbove(axis: readonly number[], v: number, orEqual: boolean): number {
  let lo = 0;
  let hi = axis.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (axis[mid]! > v || (orEqual && axis[mid] === v)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Weight of each barycentric exponent in ord(): vertices 0, 1, 2, then the centroid. */
const ORD_WEIGHT = [64, 16, 4, 1] as const;

/** Index of the Bezier ordinate with exponents i, j, k on vertices 0, 1, 2 and l on the centroid. */
function ord(i: number, j: number, k: number, l: number): number {
  return i * 64 + j * 16 + k * 4 + l;
}

/** ord() of the exponent tuple with n on vertex a and m on vertex b (3 = centroid; a !== b). */
function ord2(a: number, n: number, b: number, m: number): number {
  return n * ORD_WEIGHT[a as 0]! + m * ORD_WEIGHT[b as 0]!;
}

/** ord() of the ordinate beside edge j-l, towards the centroid. */
function edgeMid(j: number, l: number): number {
  return ORD_WEIGHT[j as 0]! + ORD_WEIGHT[l as 0]! + 1;
}

/** controlNet's working array, indexed by ord(). */
const scratchNet = new Float64Array(256);

/**
 * The cubic in the micro-triangle facing vertex k, whose weight is zero there: with u, v the
 * weights of the other two vertices (in index order) and w the centroid's, its ten Bernstein
 * terms in the order scipy sums them (by ascending exponents of vertices 0, 1, 2), as the
 * exponents of u and v. The claimGrid kernel sums them in this order.
 */
const MICRO_EXPONENTS: ReadonlyArray<readonly [number, number]> = [[0, 0], [0, 1], [0, 2], [0, 3], [1, 0], [1, 1], [1, 2], [2, 0], [2, 1], [3, 0]];
/**
 * A triangle's control net, as ord() indices: the ten ordinates of the micro-triangle facing
 * vertex 0, then vertex 1, then vertex 2, each in MICRO_EXPONENTS order.
 */
const MICRO_NET: number[] = [0, 1, 2].flatMap((k) => {
  const [a, b] = [0, 1, 2].filter((v) => v !== k) as [number, number];
  return MICRO_EXPONENTS.map(([eu, ev]) => eu * ORD_WEIGHT[a as 0] + ev * ORD_WEIGHT[b as 0] + (3 - eu - ev));
});
/** Ordinates per triangle's control net (the claimGrid kernel has 30 and 10 built in). */
const NET_SIZE = MICRO_NET.length;

export { type Triangulation };
