// The loops that dominate building the decode grid (the gradient fit's Gauss-Seidel sweeps, the
// pass that locates and evaluates every grid cell, and the nearest-point fill outside the hull),
// written in the asm.js subset of JavaScript.
//
// Why: the grid is built once, at start-up, so these loops run cold. As ordinary JavaScript they
// spend about three times their own work in the interpreter and in the JIT compiler (measured with
// instruction counts: 150 M instructions for a 100x100 grid, most of it compiling). V8 validates
// asm.js and compiles it straight to WebAssembly, which runs at native speed from the first
// iteration. asm.js is plain JavaScript with type coercions (`x | 0` an integer, `+x` a double,
// heap arrays indexed `p << 3 >> 3`): where an engine does not validate it, it runs as ordinary
// JavaScript with exactly the same IEEE arithmetic, only slower. Node prints a warning ("Invalid
// asm.js") if validation fails; test/profile-data/interpolation.test.ts checks that it does not.
//
// Arrays live in one ArrayBuffer (see KernelHeap); every pointer argument is an element index into
// the view of its type. asm.js types a local by the literal it is declared with, and a double
// literal must show a decimal point, which source transformers (the test runner's) drop from 0.0:
// so double locals are declared `= 0.5` (each is assigned before it is read), and double
// constants are written `+3`. The arithmetic is written operation for operation as scipy's Clough-Tocher
// code orders it (see clough-tocher.ts), so results are bit for bit the same.

/** The kernels of one heap (see asmKernels). */
export interface GridKernels {
  /**
   * Gauss-Seidel sweeps for the vertex gradients (gx, gy, updated in place from their values);
   * stops when a sweep changes no gradient by `tol` relative, after at most `maxSweeps`. Edges of
   * vertex i are start[i] .. start[i + 1] - 1; returns the sweeps made.
   */
  gaussSeidel(n: number, maxSweeps: number, tol: number, start: number, to: number, ex: number, ey: number, len3: number, q00: number, q01: number, q11: number, det: number, isVertex: number, rise6: number, gx: number, gy: number): number;
  /**
   * For each triangle t in index order, each still unclaimed cell of its candidate box
   * (box[4t .. 4t + 3] = ixStart, ixEnd, iyStart, iyEnd) with okX[ix] and okY[iy] that passes its
   * inside test is claimed (claimed[cell] = 1) and evaluated: out[f * cells + cell] for each field
   * f from its control nets (nets[f * netStride + 30t ..]).
   */
  claimGrid(nTri: number, nx: number, nFields: number, geometry: number, box: number, gx: number, gy: number, okX: number, okY: number, nets: number, netStride: number, out: number, outStride: number, claimed: number, col0: number, col1: number): void;
  /**
   * Every cell of the grid gx x gy where a field (out[f * outStride + cell]) is NaN takes, in
   * each NaN field, that field's value (values[f * n + i]) at the point i nearest the cell:
   * Euclidean in raw units over the points (px, py), the highest index among ties.
   */
  fillNearest(nx: number, ny: number, gx: number, gy: number, n: number, px: number, py: number, nFields: number, values: number, out: number, outStride: number): void;
}

/**
 * Fill the cells outside the hull (NaN) of `fields`, each a grid over gx x gy of the values at the
 * points (xs, ys), with the value of the nearest point (see GridKernels.fillNearest), in place.
 */
export function fillNearestPoint(gx: readonly number[], gy: readonly number[], xs: readonly number[], ys: readonly number[], fields: ReadonlyArray<{ grid: Float64Array; values: readonly number[] }>): void {
  const n = xs.length;
  const cells = gx.length * gy.length;
  const heap = new KernelHeap().f64('gx', gx.length).f64('gy', gy.length).f64('xs', n).f64('ys', n).f64('values', fields.length * n).f64('out', fields.length * cells).build();
  const { f64, at } = heap;
  f64.set(gx, at.gx);
  f64.set(gy, at.gy);
  f64.set(xs, at.xs);
  f64.set(ys, at.ys);
  fields.forEach(({ grid, values }, f) => {
    f64.set(values, at.values! + f * n);
    f64.set(grid, at.out! + f * cells);
  });
  asmKernels(globalThis, { insideEps: 0 }, heap.buffer).fillNearest(gx.length, gy.length, at.gx!, at.gy!, n, at.xs!, at.ys!, fields.length, at.values!, at.out!, cells);
  fields.forEach(({ grid }, f) => grid.set(f64.subarray(at.out! + f * cells, at.out! + (f + 1) * cells)));
}

/**
 * The asm.js module. `foreign.insideEps`: the inside test's tolerance on barycentric coordinates.
 * Call it with a fresh heap each time (instantiation is cheap; the compiled code is shared).
 */
export function asmKernels(stdlib: typeof globalThis, foreign: { insideEps: number }, heap: ArrayBuffer): GridKernels {
  'use asm';
  var F64 = new stdlib.Float64Array(heap);
  var I32 = new stdlib.Int32Array(heap);
  var U8 = new stdlib.Uint8Array(heap);
  var fmin = stdlib.Math.min;
  var fmax = stdlib.Math.max;
  var fabs = stdlib.Math.abs;
  var imul = stdlib.Math.imul;
  var inf = stdlib.Infinity;
  var insideEps = +foreign.insideEps;

  function sweepGradients(n: number, maxSweeps: number, tol: number, start: number, to: number, ex: number, ey: number, len3: number, q00: number, q01: number, q11: number, det: number, isVertex: number, rise6: number, gx: number, gy: number): number {
    n = n | 0;
    maxSweeps = maxSweeps | 0;
    tol = +tol;
    start = start | 0;
    to = to | 0;
    ex = ex | 0;
    ey = ey | 0;
    len3 = len3 | 0;
    q00 = q00 | 0;
    q01 = q01 | 0;
    q11 = q11 | 0;
    det = det | 0;
    isVertex = isVertex | 0;
    rise6 = rise6 | 0;
    gx = gx | 0;
    gy = gy | 0;
    var sweep = 0, i = 0, e = 0, end = 0, j = 0;
    var worst = 0.5, s0 = 0.5, s1 = 0.5, rhs = 0.5, g0 = 0.5, g1 = 0.5, change = 0.5, d = 0.5;
    for (sweep = 0; (sweep | 0) < (maxSweeps | 0); sweep = (sweep + 1) | 0) {
      worst = +0;
      for (i = 0; (i | 0) < (n | 0); i = (i + 1) | 0) {
        if (!(U8[(isVertex + i) | 0] | 0)) continue;
        // Normal equations of the sum over edges (i, j) of the integral of the squared second
        // derivative of the edge cubic, as a function of i's gradient (the others fixed).
        s0 = +0;
        s1 = +0;
        end = I32[((start + i + 1) << 2) >> 2] | 0;
        for (e = I32[((start + i) << 2) >> 2] | 0; (e | 0) < (end | 0); e = (e + 1) | 0) {
          j = I32[((to + e) << 2) >> 2] | 0;
          rhs = +F64[((rise6 + e) << 3) >> 3] - +2 * (+F64[((gx + j) << 3) >> 3] * +F64[((ex + e) << 3) >> 3] + +F64[((gy + j) << 3) >> 3] * +F64[((ey + e) << 3) >> 3]);
          s0 = s0 + (rhs * +F64[((ex + e) << 3) >> 3]) / +F64[((len3 + e) << 3) >> 3];
          s1 = s1 + (rhs * +F64[((ey + e) << 3) >> 3]) / +F64[((len3 + e) << 3) >> 3];
        }
        d = +F64[((det + i) << 3) >> 3];
        g0 = (+F64[((q11 + i) << 3) >> 3] * s0 - +F64[((q01 + i) << 3) >> 3] * s1) / d;
        g1 = (+F64[((q00 + i) << 3) >> 3] * s1 - +F64[((q01 + i) << 3) >> 3] * s0) / d;
        change = +fmax(+fabs(+F64[((gx + i) << 3) >> 3] - g0), +fabs(+F64[((gy + i) << 3) >> 3] - g1)) / +fmax(+fmax(+1, +fabs(g0)), +fabs(g1));
        F64[((gx + i) << 3) >> 3] = g0;
        F64[((gy + i) << 3) >> 3] = g1;
        if (change > worst) worst = change;
      }
      if (worst < tol) return (sweep + 1) | 0;
    }
    return sweep | 0;
  }

  function claimCells(nTri: number, nx: number, nFields: number, geometry: number, box: number, gx: number, gy: number, okX: number, okY: number, nets: number, netStride: number, out: number, outStride: number, claimed: number, col0: number, col1: number): void {
    nTri = nTri | 0;
    nx = nx | 0;
    nFields = nFields | 0;
    geometry = geometry | 0;
    box = box | 0;
    gx = gx | 0;
    gy = gy | 0;
    okX = okX | 0;
    okY = okY | 0;
    nets = nets | 0;
    netStride = netStride | 0;
    out = out | 0;
    outStride = outStride | 0;
    claimed = claimed | 0;
    col0 = col0 | 0;
    col1 = col1 | 0;
    var t = 0, o = 0, b = 0, ix = 0, iy = 0, ixStart = 0, ixEnd = 0, iyEnd = 0, row = 0, cell = 0, k = 0, base = 0, f = 0, p = 0;
    var negEps = 0.5, dx = 0.5, dy = 0.5, rowB0 = 0.5, rowB1 = 0.5, b0 = 0.5, b1 = 0.5, b2 = 0.5, m = 0.5;
    var w0 = 0.5, w1 = 0.5, w2 = 0.5, w = 0.5, u = 0.5, v = 0.5, uu = 0.5, vv = 0.5, ww = 0.5, sum = 0.5;
    var q0 = 0.5, q1 = 0.5, q2 = 0.5, q3 = 0.5, q4 = 0.5, q5 = 0.5, q6 = 0.5, q7 = 0.5, q8 = 0.5, q9 = 0.5;
    negEps = -insideEps;
    for (t = 0; (t | 0) < (nTri | 0); t = (t + 1) | 0) {
      // Barycentric coordinates: (b0, b1) = inverse * (x - ox, y - oy) with the inverse at o and
      // (ox, oy) at o + 4; the products with x - ox once per column, with y - oy once per row.
      o = (geometry + imul(t, 6)) | 0;
      b = (box + (t << 2)) | 0;
      ixStart = I32[(b << 2) >> 2] | 0;
      ixEnd = I32[((b + 1) << 2) >> 2] | 0;
      iy = I32[((b + 2) << 2) >> 2] | 0;
      iyEnd = I32[((b + 3) << 2) >> 2] | 0;
      for (ix = ixStart; (ix | 0) < (ixEnd | 0); ix = (ix + 1) | 0) {
        dx = +F64[((gx + ix) << 3) >> 3] - +F64[((o + 4) << 3) >> 3];
        F64[((col0 + ix) << 3) >> 3] = +F64[(o << 3) >> 3] * dx;
        F64[((col1 + ix) << 3) >> 3] = +F64[((o + 2) << 3) >> 3] * dx;
      }
      for (; (iy | 0) < (iyEnd | 0); iy = (iy + 1) | 0) {
        if (!(U8[(okY + iy) | 0] | 0)) continue;
        dy = +F64[((gy + iy) << 3) >> 3] - +F64[((o + 5) << 3) >> 3];
        rowB0 = +F64[((o + 1) << 3) >> 3] * dy;
        rowB1 = +F64[((o + 3) << 3) >> 3] * dy;
        row = imul(iy, nx) | 0;
        for (ix = ixStart; (ix | 0) < (ixEnd | 0); ix = (ix + 1) | 0) {
          cell = (row + ix) | 0;
          if (U8[(claimed + cell) | 0] | 0) continue;
          if (!(U8[(okX + ix) | 0] | 0)) continue;
          b0 = +F64[((col0 + ix) << 3) >> 3] + rowB0;
          b1 = +F64[((col1 + ix) << 3) >> 3] + rowB1;
          b2 = +1 - b0 - b1;
          // Inside (within the tolerance) when all three are >= -tolerance; NaN is outside.
          if (!(b0 >= negEps)) continue;
          if (!(b1 >= negEps)) continue;
          if (!(b2 >= negEps)) continue;
          U8[(claimed + cell) | 0] = 1;
          // The micro-triangle holding the point faces the vertex with the smallest coordinate m;
          // in its coordinates that vertex's weight (b - m, exactly zero) moves to the centroid
          // (3m) and the terms with a power of it vanish. u, v: the other two vertices' weights.
          m = +fmin(+fmin(b0, b1), b2);
          w0 = b0 - m;
          w1 = b1 - m;
          w2 = b2 - m;
          w = +3 * m;
          if (w0 == +0) {
            k = 0;
            u = w1;
            v = w2;
          } else if (w1 == +0) {
            k = 1;
            u = w0;
            v = w2;
          } else {
            k = 2;
            u = w0;
            v = w1;
          }
          // The ten Bernstein weights: multinomial coefficient times the powers (MICRO_EXPONENTS).
          uu = u * u;
          vv = v * v;
          ww = w * w;
          q0 = ww * w;
          q1 = +3 * v * ww;
          q2 = +3 * vv * w;
          q3 = vv * v;
          q4 = +3 * u * ww;
          q5 = +6 * u * v * w;
          q6 = +3 * u * vv;
          q7 = +3 * uu * w;
          q8 = +3 * uu * v;
          q9 = uu * u;
          base = (nets + imul(t, 30) + imul(k, 10)) | 0;
          for (f = 0; (f | 0) < (nFields | 0); f = (f + 1) | 0) {
            p = (base + imul(f, netStride)) | 0;
            sum = +0;
            if (q0 != +0) sum = sum + q0 * +F64[(p << 3) >> 3];
            if (q1 != +0) sum = sum + q1 * +F64[((p + 1) << 3) >> 3];
            if (q2 != +0) sum = sum + q2 * +F64[((p + 2) << 3) >> 3];
            if (q3 != +0) sum = sum + q3 * +F64[((p + 3) << 3) >> 3];
            if (q4 != +0) sum = sum + q4 * +F64[((p + 4) << 3) >> 3];
            if (q5 != +0) sum = sum + q5 * +F64[((p + 5) << 3) >> 3];
            if (q6 != +0) sum = sum + q6 * +F64[((p + 6) << 3) >> 3];
            if (q7 != +0) sum = sum + q7 * +F64[((p + 7) << 3) >> 3];
            if (q8 != +0) sum = sum + q8 * +F64[((p + 8) << 3) >> 3];
            if (q9 != +0) sum = sum + q9 * +F64[((p + 9) << 3) >> 3];
            F64[((out + imul(f, outStride) + cell) << 3) >> 3] = sum;
          }
        }
      }
    }
  }

  function fillOutside(nx: number, ny: number, gx: number, gy: number, n: number, px: number, py: number, nFields: number, values: number, out: number, outStride: number): void {
    nx = nx | 0;
    ny = ny | 0;
    gx = gx | 0;
    gy = gy | 0;
    n = n | 0;
    px = px | 0;
    py = py | 0;
    nFields = nFields | 0;
    values = values | 0;
    out = out | 0;
    outStride = outStride | 0;
    var ix = 0, iy = 0, cell = 0, f = 0, p = 0, i = 0, best = 0, missing = 0;
    var x = 0.5, y = 0.5, dx = 0.5, dy = 0.5, d = 0.5, bestD = 0.5;
    for (iy = 0; (iy | 0) < (ny | 0); iy = (iy + 1) | 0) {
      y = +F64[((gy + iy) << 3) >> 3];
      for (ix = 0; (ix | 0) < (nx | 0); ix = (ix + 1) | 0) {
        cell = (imul(iy, nx) + ix) | 0;
        missing = 0;
        for (f = 0; (f | 0) < (nFields | 0); f = (f + 1) | 0) {
          p = (out + imul(f, outStride) + cell) | 0;
          if (+F64[(p << 3) >> 3] != +F64[(p << 3) >> 3]) missing = 1;
        }
        if (!missing) continue;
        x = +F64[((gx + ix) << 3) >> 3];
        best = -1;
        bestD = inf;
        for (i = 0; (i | 0) < (n | 0); i = (i + 1) | 0) {
          dx = +F64[((px + i) << 3) >> 3] - x;
          dy = +F64[((py + i) << 3) >> 3] - y;
          d = dx * dx + dy * dy;
          if (d <= bestD) {
            best = i;
            bestD = d;
          }
        }
        // No point at a comparable distance (NaN coordinates): the cell stays NaN.
        if ((best | 0) < 0) continue;
        for (f = 0; (f | 0) < (nFields | 0); f = (f + 1) | 0) {
          p = (out + imul(f, outStride) + cell) | 0;
          if (+F64[(p << 3) >> 3] != +F64[(p << 3) >> 3]) F64[(p << 3) >> 3] = +F64[((values + imul(f, n) + best) << 3) >> 3];
        }
      }
    }
  }

  // Inner names differ from the exported keys: a transformer would print { a: a } as { a }, which
  // is not asm.js.
  return { gaussSeidel: sweepGradients, claimGrid: claimCells, fillNearest: fillOutside };
}

/**
 * Typed regions of one ArrayBuffer sized as asm.js requires (a power of two from 64 KiB, or a
 * multiple of 16 MiB), for the kernels' arguments. Declare every region, then build().
 */
export class KernelHeap {
  private readonly sizes = { f64: new Map<string, number>(), i32: new Map<string, number>(), u8: new Map<string, number>() };

  f64(name: string, length: number): this {
    this.sizes.f64.set(name, length);
    return this;
  }

  i32(name: string, length: number): this {
    this.sizes.i32.set(name, length);
    return this;
  }

  u8(name: string, length: number): this {
    this.sizes.u8.set(name, length);
    return this;
  }

  /** The buffer, its views and each region's start (an index into the view of its type). */
  build(): { buffer: ArrayBuffer; f64: Float64Array; i32: Int32Array; u8: Uint8Array; at: Record<string, number> } {
    const at: Record<string, number> = {};
    let bytes = 0;
    for (const [kind, width] of [['f64', 8], ['i32', 4], ['u8', 1]] as const) {
      for (const [name, length] of this.sizes[kind]) {
        at[name] = bytes / width;
        bytes += length * width;
      }
      bytes = Math.ceil(bytes / 8) * 8;
    }
    const size = bytes <= 1 << 24 ? Math.max(1 << 16, 2 ** Math.ceil(Math.log2(Math.max(bytes, 1)))) : Math.ceil(bytes / (1 << 24)) * (1 << 24);
    const buffer = new ArrayBuffer(size);
    return { buffer, f64: new Float64Array(buffer), i32: new Int32Array(buffer), u8: new Uint8Array(buffer), at };
  }
}
