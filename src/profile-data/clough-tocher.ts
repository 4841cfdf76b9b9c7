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
// The gradient sweeps, the control nets and the evaluation run in WebAssembly kernels
// (wasm-kernels.ts), with the same arithmetic in the same order, so every value is bit for bit
// what a plain loop computes.
import { KernelHeap, NET_SIZE } from './wasm-kernels.js';
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
  /** The triangles' vertices, triangle t's at 3t .. 3t + 2. */
  private readonly corners: Int32Array;
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
    const count = triangles.length;
    // Per-triangle arrays, filled element by element (a cold build runs this once, interpreted).
    const corners = (this.corners = new Int32Array(3 * count));
    const geometry = (this.geometry = new Float64Array(6 * count));
    const boxes = (this.boxes = new Float64Array(4 * count));
    for (let t = 0; t < count; t++) {
      const tri = triangles[t]!;
      const a = tri[0], b = tri[1], c = tri[2];
      corners[3 * t] = a;
      corners[3 * t + 1] = b;
      corners[3 * t + 2] = c;
      const xa = xs[a]!, xb = xs[b]!, xc = xs[c]!, ya = ys[a]!, yb = ys[b]!, yc = ys[c]!;
      const t00 = xa - xc, t01 = xb - xc;
      const t10 = ya - yc, t11 = yb - yc;
      const det = t00 * t11 - t01 * t10;
      const g = 6 * t;
      geometry[g] = t11 / det;
      geometry[g + 1] = -t01 / det;
      geometry[g + 2] = -t10 / det;
      geometry[g + 3] = t00 / det;
      geometry[g + 4] = xc;
      geometry[g + 5] = yc;
      const x0 = Math.min(xa, xb, xc), x1 = Math.max(xa, xb, xc);
      const y0 = Math.min(ya, yb, yc), y1 = Math.max(ya, yb, yc);
      const margin = GRID_CANDIDATE_MARGIN * (x1 - x0 + (y1 - y0));
      boxes[4 * t] = x0 - margin;
      boxes[4 * t + 1] = x1 + margin;
      boxes[4 * t + 2] = y0 - margin;
      boxes[4 * t + 3] = y1 + margin;
    }
    this.gammas = new Float64Array(3 * count);
    for (let t = 0; t < count; t++) this.edgeGammas(t);
    this.edgeFit = this.edges();
    let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
    const vertices = this.tri.vertices;
    for (let v = 0; v < vertices.length; v++) {
      const i = vertices[v]!;
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
      const o = 3 * nb;
      const p = this.corners[o]!, q = this.corners[o + 1]!, r = this.corners[o + 2]!;
      const cx = (this.xs[p]! + this.xs[q]! + this.xs[r]!) / 3;
      const cy = (this.ys[p]! + this.ys[q]! + this.ys[r]!) / 3;
      const c = this.barycentric(t, cx, cy);
      const cj = c[(k + 1) % 3]!;
      const cl = c[(k + 2) % 3]!;
      this.gammas[3 * t + k] = (2 * cl + cj - 1) / (2 - 3 * cl - 3 * cj);
    }
  }

  /** The edges around each vertex and the parts of the gradient fit that depend on geometry only. */
  private edges(): EdgeFit {
    const n = this.xs.length;
    const adjacency: number[][] = Array.from({ length: n }, () => []);
    const link = (u: number, v: number) => {
      if (!adjacency[u]!.includes(v)) adjacency[u]!.push(v);
    };
    for (let t = 0; t < this.tri.triangles.length; t++) {
      const a = this.corners[3 * t]!, b = this.corners[3 * t + 1]!, c = this.corners[3 * t + 2]!;
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
    for (let v = 0; v < this.tri.vertices.length; v++) fit.isVertex[this.tri.vertices[v]!] = 1;
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
    const { f64, at } = this.fit([values], false);
    const isVertex = this.edgeFit.isVertex;
    return Array.from({ length: this.xs.length }, (_, i) => (isVertex[i] ? [f64[at.gx! + i]!, f64[at.gy! + i]!] : [NaN, NaN]));
  }

  /**
   * Lay out the kernels' memory for `fields` (values at the points), run the gradient fit of each
   * (field f's gradients at at.gx + f * n, at.gy + f * n) and, with `nets`, the control nets
   * (field f's at at.nets + f * NET_SIZE * triangles).
   */
  private fit(fields: readonly number[][], nets: boolean): { f64: Float64Array; at: Record<string, number> } {
    const n = this.xs.length;
    const count = this.tri.triangles.length;
    const fit = this.edgeFit;
    const m = fit.to.length;
    const F = fields.length;
    const { f64, i32, u8, at, kernels } = new KernelHeap()
      .f64('xs', n).f64('ys', n).f64('values', F * n).f64('gx', F * n).f64('gy', F * n)
      .f64('ex', m).f64('ey', m).f64('len3', m).f64('q00', n).f64('q01', n).f64('q11', n).f64('det', n)
      .f64('gammas', 3 * count).f64('scratch', 256).f64('nets', F * NET_SIZE * count)
      .i32('start', n + 1).i32('to', m).i32('tri', 3 * count).u8('isVertex', n)
      .build();
    f64.set(this.xs, at.xs);
    f64.set(this.ys, at.ys);
    f64.set(fit.ex, at.ex);
    f64.set(fit.ey, at.ey);
    f64.set(fit.len3, at.len3);
    f64.set(fit.q00, at.q00);
    f64.set(fit.q01, at.q01);
    f64.set(fit.q11, at.q11);
    f64.set(fit.det, at.det);
    f64.set(this.gammas, at.gammas);
    i32.set(fit.start, at.start);
    i32.set(fit.to, at.to);
    i32.set(this.corners, at.tri);
    u8.set(fit.isVertex, at.isVertex);
    // The sweeps start from zero gradients.
    f64.fill(0, at.gx!, at.gx! + F * n);
    f64.fill(0, at.gy!, at.gy! + F * n);
    for (let f = 0; f < F; f++) {
      const values = at.values! + f * n, gx = at.gx! + f * n, gy = at.gy! + f * n;
      f64.set(fields[f]!, values);
      kernels.gaussSeidel(n, GRADIENT_MAX_SWEEPS, GRADIENT_TOL, at.start!, at.to!, at.ex!, at.ey!, at.len3!, at.q00!, at.q01!, at.q11!, at.det!, at.isVertex!, values, gx, gy);
      if (nets) kernels.controlNets(count, at.tri!, at.xs!, at.ys!, values, gx, gy, at.gammas!, at.scratch!, at.nets! + f * NET_SIZE * count);
    }
    return { f64, at };
  }

  /** Index of a triangle containing (x, y) within the tolerance, or -1 outside the hull. */
  locate(x: number, y: number): number {
    if (x < this.minX - INSIDE_EPS || x > this.maxX + INSIDE_EPS || y < this.minY - INSIDE_EPS || y > this.maxY + INSIDE_EPS) return -1;
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
    return this.evaluate(gx, gy, this.controlNets(fields), fields.length);
  }

  /** A field ready to evaluate point by point: vertex gradients and control nets built once. */
  field(values: number[]): (x: number, y: number) => number {
    const nets = this.controlNets([values]);
    return (x, y) => this.evaluate([x], [y], nets, 1)[0]![0]!;
  }

  /** The control nets of `fields`, field f's at f * NET_SIZE * triangles. */
  private controlNets(fields: readonly number[][]): Float64Array {
    const { f64, at } = this.fit(fields, true);
    return f64.slice(at.nets!, at.nets! + fields.length * NET_SIZE * this.tri.triangles.length);
  }

  /**
   * Evaluation of fields (given by their control nets) on the grid gx x gy, by the claimGrid
   * kernel: instead of locating each cell by scanning the triangles, each triangle in index order
   * claims the still unclaimed cells within its candidate box that pass its inside test, which is
   * the same first match as locate()'s scan (a point passing the test lies within ~1e-13 of the
   * triangle's size outside it, far inside the box's margin). Cells outside the vertices'
   * bounding box (widened by the test's tolerance) stay unclaimed, as locate() has it.
   */
  private evaluate(gx: readonly number[], gy: readonly number[], nets: Float64Array, fields: number): Float64Array[] {
    for (const axis of [gx, gy]) for (let i = 1; i < axis.length; i++) if (!(axis[i]! >= axis[i - 1]!)) throw new Error('evaluateGrid: grid axes must be ascending');
    const count = this.tri.triangles.length;
    const nx = gx.length, ny = gy.length;
    const cells = nx * ny;
    const { f64, i32, u8, at, kernels } = new KernelHeap()
      .f64('geometry', 6 * count).f64('gx', nx).f64('gy', ny).f64('nets', nets.length)
      .f64('out', fields * cells).f64('col0', nx).f64('col1', nx)
      .i32('box', 4 * count).u8('okX', nx).u8('okY', ny).u8('claimed', cells)
      .build();
    f64.set(this.geometry, at.geometry);
    f64.set(nets, at.nets);
    f64.set(gx, at.gx);
    f64.set(gy, at.gy);
    const loX = this.minX - INSIDE_EPS, hiX = this.maxX + INSIDE_EPS, loY = this.minY - INSIDE_EPS, hiY = this.maxY + INSIDE_EPS;
    for (let ix = 0; ix < nx; ix++) u8[at.okX! + ix] = gx[ix]! < loX || gx[ix]! > hiX ? 0 : 1;
    for (let iy = 0; iy < ny; iy++) u8[at.okY! + iy] = gy[iy]! < loY || gy[iy]! > hiY ? 0 : 1;
    // Each box as grid index ranges: the first index with a coordinate >= its low edge, and the
    // first with one > its high edge (binary searches over the ascending axes).
    const boxes = this.boxes;
    for (let k = 0; k < 4 * count; k++) {
      const axis = k % 4 < 2 ? gx : gy;
      const v = boxes[k]!;
      const orEqual = k % 2 === 0;
      let lo = 0, hi = axis.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (axis[mid]! > v || (orEqual && axis[mid] === v)) hi = mid;
        else lo = mid + 1;
      }
      i32[at.box! + k] = lo;
    }
    u8.fill(0, at.claimed!, at.claimed! + cells);
    f64.fill(NaN, at.out!, at.out! + fields * cells);
    kernels.claimGrid(count, nx, fields, at.geometry!, at.box!, at.gx!, at.gy!, at.okX!, at.okY!, at.nets!, NET_SIZE * count, at.out!, cells, at.claimed!, at.col0!, at.col1!, -INSIDE_EPS);
    const out: Float64Array[] = [];
    for (let f = 0; f < fields; f++) out.push(f64.slice(at.out! + f * cells, at.out! + (f + 1) * cells));
    return out;
  }
}

export { type Triangulation };
