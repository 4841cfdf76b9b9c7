// Source of the WebAssembly kernels of wasm-kernels.ts (see there for what they do and why), and
// the emitter that turns it into the module's bytes. Each kernel is written as nested expressions
// over i32 and f64 locals, loads and stores into one imported memory (k.m; every pointer argument
// is an element index into the view of its type), and structured loops; the arithmetic is
// operation for operation scipy's Clough-Tocher code (see clough-tocher.ts). The bytes are
// embedded in wasm-kernels-module.ts, regenerated with
//   node dist/src/profile-data/wasm-kernels-source.js --write   (--check: exit 1 when stale)
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { NET_SIZE } from './wasm-kernels.js';

/** The module's bytes: the three kernels, exported by name (GridKernels), over one imported memory (k.m). */
export function kernelModuleBytes(): Uint8Array {
  return emitModule([gaussSeidel(), controlNets(), claimGrid(), fillNearest()]);
}

function gaussSeidel(): Func {
  const f = new Func('gaussSeidel', 'i32',
    ['n', 'maxSweeps', 'tol:f64', 'start', 'to', 'ex', 'ey', 'len3', 'q00', 'q01', 'q11', 'det', 'isVertex', 'values', 'gx', 'gy'],
    ['sweep', 'i', 'e', 'end', 'j', 'worst:f64', 's0:f64', 's1:f64', 'rhs:f64', 'g0:f64', 'g1:f64', 'change:f64', 'd:f64']);
  const $ = f.vars;
  f.body = [
    forRange($.sweep, I(0), $.maxSweeps, () => [
      set($.worst, F(0)),
      forRange($.i, I(0), $.n, (next) => [
        brIf(next, eqz(u8(add($.isVertex, $.i)))),
        // Normal equations of the sum over edges (i, j) of the integral of the squared second
        // derivative of the edge cubic, as a function of i's gradient (the others fixed).
        set($.s0, F(0)),
        set($.s1, F(0)),
        set($.end, i32(add(add($.start, $.i), I(1)))),
        forRange($.e, i32(add($.start, $.i)), $.end, () => [
          set($.j, i32(add($.to, $.e))),
          set($.rhs, sub(mul(F(6), sub(f64(add($.values, $.j)), f64(add($.values, $.i)))), mul(F(2), add(mul(f64(add($.gx, $.j)), f64(add($.ex, $.e))), mul(f64(add($.gy, $.j)), f64(add($.ey, $.e))))))),
          set($.s0, add($.s0, div(mul($.rhs, f64(add($.ex, $.e))), f64(add($.len3, $.e))))),
          set($.s1, add($.s1, div(mul($.rhs, f64(add($.ey, $.e))), f64(add($.len3, $.e))))),
        ]),
        set($.d, f64(add($.det, $.i))),
        set($.g0, div(sub(mul(f64(add($.q11, $.i)), $.s0), mul(f64(add($.q01, $.i)), $.s1)), $.d)),
        set($.g1, div(sub(mul(f64(add($.q00, $.i)), $.s1), mul(f64(add($.q01, $.i)), $.s0)), $.d)),
        set($.change, div(max(abs(sub(f64(add($.gx, $.i)), $.g0)), abs(sub(f64(add($.gy, $.i)), $.g1))), max(max(F(1), abs($.g0)), abs($.g1)))),
        setF64(add($.gx, $.i), $.g0),
        setF64(add($.gy, $.i), $.g1),
        when(gt($.change, $.worst), [set($.worst, $.change)]),
      ]),
      when(lt($.worst, $.tol), [ret(add($.sweep, I(1)))]),
    ]),
    ret($.sweep),
  ];
  return f;
}

function controlNets(): Func {
  const f = new Func('controlNets', null,
    ['nTri', 'tri', 'xs', 'ys', 'values', 'gx', 'gy', 'gammas', 'scratch', 'nets'],
    ['t', 'v0', 'v1', 'v2', 'x0:f64', 'x1:f64', 'x2:f64', 'y0:f64', 'y1:f64', 'y2:f64', 'f0:f64', 'f1:f64', 'f2:f64',
      'gx0:f64', 'gx1:f64', 'gx2:f64', 'gy0:f64', 'gy1:f64', 'gy2:f64', 'rise:f64', 'e0:f64', 'e1:f64', 'e2:f64', 'e3:f64', 'inJ:f64', 'inL:f64', 'third:f64']);
  const $ = f.vars;
  const V = [$.v0, $.v1, $.v2], X = [$.x0, $.x1, $.x2], Y = [$.y0, $.y1, $.y2], Fv = [$.f0, $.f1, $.f2];
  const GX = [$.gx0, $.gx1, $.gx2], GY = [$.gy0, $.gy1, $.gy2];
  const VERTS = [0, 1, 2] as const;
  // The working net in scratch memory, indexed by ord().
  const c = (i: number) => f64(add($.scratch, I(i)));
  const setC = (i: number, v: Expr) => setF64(add($.scratch, I(i)), v);
  const next = (a: number) => (a + 1) % 3;
  const prev = (a: number) => (a + 2) % 3;
  f.body = [forRange($.t, I(0), $.nTri, () => [
    ...VERTS.map((a) => set(V[a]!, i32(add($.tri, add(mul($.t, I(3)), I(a)))))),
    ...VERTS.flatMap((a) => [
      set(X[a]!, f64(add($.xs, V[a]!))),
      set(Y[a]!, f64(add($.ys, V[a]!))),
      set(Fv[a]!, f64(add($.values, V[a]!))),
      set(GX[a]!, f64(add($.gx, V[a]!))),
      set(GY[a]!, f64(add($.gy, V[a]!))),
    ]),
    // The vertex values; along edge a->b, the vertex value plus a third of the tangent plane's
    // rise to b.
    ...VERTS.flatMap((a) => [
      setC(ord2(a, 3, 3, 0), Fv[a]!),
      ...VERTS.filter((b) => b !== a).flatMap((b) => [
        set($.rise, add(mul(GX[a]!, sub(X[b]!, X[a]!)), mul(GY[a]!, sub(Y[b]!, Y[a]!)))),
        setC(ord2(a, 2, b, 1), add(Fv[a]!, div($.rise, F(3)))),
      ]),
    ]),
    // Towards the centroid from each vertex: the tangent plane a third of the way there.
    ...VERTS.map((a) => setC(ord2(a, 2, 3, 1), div(add(add(Fv[a]!, c(ord2(a, 2, next(a), 1))), c(ord2(a, 2, prev(a), 1))), F(3)))),
    // Inner ordinate beside each edge j->l (opposite k): makes the derivative across the edge,
    // along the gamma direction, linear in the edge parameter (C1 with the neighbour).
    ...VERTS.flatMap((k) => {
      const j = next(k), l = prev(k);
      return [
        set($.e0, Fv[j]!),
        set($.e1, c(ord2(j, 2, l, 1))),
        set($.e2, c(ord2(j, 1, l, 2))),
        set($.e3, Fv[l]!),
        set($.inJ, c(ord2(j, 2, 3, 1))),
        set($.inL, c(ord2(l, 2, 3, 1))),
        set($.third, add(sub(add(neg($.e0), mul(F(3), $.e1)), mul(F(3), $.e2)), $.e3)),
        setC(edgeMid(j, l), div(add(mul(f64(add($.gammas, add(mul($.t, I(3)), I(k)))), $.third), add(add(sub(add(neg($.e0), mul(F(2), $.e1)), $.e2), $.inJ), $.inL)), F(2))),
      ];
    }),
    // C1 across the inner edges to the centroid: averages of the surrounding ordinates.
    ...VERTS.map((a) => setC(ord2(a, 1, 3, 2), div(add(add(c(edgeMid(a, next(a))), c(edgeMid(a, prev(a)))), c(ord2(a, 2, 3, 1))), F(3)))),
    setC(ord(0, 0, 0, 3), div(add(add(c(ord(1, 0, 0, 2)), c(ord(0, 1, 0, 2))), c(ord(0, 0, 1, 2))), F(3))),
    ...MICRO_NET.map((i, m) => setF64(add($.nets, add(mul($.t, I(NET_SIZE)), I(m))), c(i))),
  ])];
  return f;
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
if (MICRO_NET.length !== NET_SIZE) throw new Error('wasm-kernels: a control net has NET_SIZE ordinates');

function claimGrid(): Func {
  const f = new Func('claimGrid', null,
    ['nTri', 'nx', 'nFields', 'geometry', 'box', 'gx', 'gy', 'okX', 'okY', 'nets', 'netStride', 'out', 'outStride', 'claimed', 'col0', 'col1', 'negEps:f64'],
    ['t', 'o', 'b', 'ix', 'iy', 'ixStart', 'ixEnd', 'iyEnd', 'row', 'cell', 'k', 'base', 'f', 'p',
      'dx:f64', 'dy:f64', 'rowB0:f64', 'rowB1:f64', 'b0:f64', 'b1:f64', 'b2:f64', 'm:f64', 'w0:f64', 'w1:f64', 'w2:f64', 'w:f64',
      'u:f64', 'v:f64', 'uu:f64', 'vv:f64', 'ww:f64', 'sum:f64', 'q0:f64', 'q1:f64', 'q2:f64', 'q3:f64', 'q4:f64', 'q5:f64', 'q6:f64', 'q7:f64', 'q8:f64', 'q9:f64']);
  const $ = f.vars;
  const q = [$.q0, $.q1, $.q2, $.q3, $.q4, $.q5, $.q6, $.q7, $.q8, $.q9] as const;
  f.body = [forRange($.t, I(0), $.nTri, () => [
    // Barycentric coordinates: (b0, b1) = inverse * (x - ox, y - oy) with the inverse at o and
    // (ox, oy) at o + 4; the products with x - ox once per column, with y - oy once per row.
    set($.o, add($.geometry, mul($.t, I(6)))),
    set($.b, add($.box, mul($.t, I(4)))),
    set($.ixStart, i32($.b)),
    set($.ixEnd, i32(add($.b, I(1)))),
    set($.iyEnd, i32(add($.b, I(3)))),
    forRange($.ix, $.ixStart, $.ixEnd, () => [
      set($.dx, sub(f64(add($.gx, $.ix)), f64(add($.o, I(4))))),
      setF64(add($.col0, $.ix), mul(f64($.o), $.dx)),
      setF64(add($.col1, $.ix), mul(f64(add($.o, I(2))), $.dx)),
    ]),
    forRange($.iy, i32(add($.b, I(2))), $.iyEnd, (nextRow) => [
      brIf(nextRow, eqz(u8(add($.okY, $.iy)))),
      set($.dy, sub(f64(add($.gy, $.iy)), f64(add($.o, I(5))))),
      set($.rowB0, mul(f64(add($.o, I(1))), $.dy)),
      set($.rowB1, mul(f64(add($.o, I(3))), $.dy)),
      set($.row, mul($.iy, $.nx)),
      forRange($.ix, $.ixStart, $.ixEnd, (next) => [
        set($.cell, add($.row, $.ix)),
        brIf(next, u8(add($.claimed, $.cell))),
        brIf(next, eqz(u8(add($.okX, $.ix)))),
        set($.b0, add(f64(add($.col0, $.ix)), $.rowB0)),
        set($.b1, add(f64(add($.col1, $.ix)), $.rowB1)),
        set($.b2, sub(sub(F(1), $.b0), $.b1)),
        // Inside (within the tolerance) when all three are >= -tolerance; NaN is outside.
        brIf(next, eqz(ge($.b0, $.negEps))),
        brIf(next, eqz(ge($.b1, $.negEps))),
        brIf(next, eqz(ge($.b2, $.negEps))),
        setU8(add($.claimed, $.cell), I(1)),
        // The micro-triangle holding the point faces the vertex with the smallest coordinate m;
        // in its coordinates that vertex's weight (b - m, exactly zero) moves to the centroid
        // (3m) and the terms with a power of it vanish. u, v: the other two vertices' weights.
        set($.m, min(min($.b0, $.b1), $.b2)),
        set($.w0, sub($.b0, $.m)),
        set($.w1, sub($.b1, $.m)),
        set($.w2, sub($.b2, $.m)),
        set($.w, mul(F(3), $.m)),
        when(eq($.w0, F(0)), [set($.k, I(0)), set($.u, $.w1), set($.v, $.w2)], [
          when(eq($.w1, F(0)), [set($.k, I(1)), set($.u, $.w0), set($.v, $.w2)], [set($.k, I(2)), set($.u, $.w0), set($.v, $.w1)]),
        ]),
        // The ten Bernstein weights: multinomial coefficient times the powers (MICRO_EXPONENTS).
        set($.uu, mul($.u, $.u)),
        set($.vv, mul($.v, $.v)),
        set($.ww, mul($.w, $.w)),
        set($.q0, mul($.ww, $.w)),
        set($.q1, mul(mul(F(3), $.v), $.ww)),
        set($.q2, mul(mul(F(3), $.vv), $.w)),
        set($.q3, mul($.vv, $.v)),
        set($.q4, mul(mul(F(3), $.u), $.ww)),
        set($.q5, mul(mul(mul(F(6), $.u), $.v), $.w)),
        set($.q6, mul(mul(F(3), $.u), $.vv)),
        set($.q7, mul(mul(F(3), $.uu), $.w)),
        set($.q8, mul(mul(F(3), $.uu), $.v)),
        set($.q9, mul($.uu, $.u)),
        set($.base, add(add($.nets, mul($.t, I(NET_SIZE))), mul($.k, I(10)))),
        forRange($.f, I(0), $.nFields, () => [
          set($.p, add($.base, mul($.f, $.netStride))),
          set($.sum, F(0)),
          ...q.map((qi, i) => when(ne(qi, F(0)), [set($.sum, add($.sum, mul(qi, f64(add($.p, I(i))))))])),
          setF64(add(add($.out, mul($.f, $.outStride)), $.cell), $.sum),
        ]),
      ]),
    ]),
  ])];
  return f;
}

function fillNearest(): Func {
  const f = new Func('fillNearest', null,
    ['nx', 'ny', 'gx', 'gy', 'n', 'px', 'py', 'nFields', 'values', 'out', 'outStride', 'dyy', 'cand'],
    ['ix', 'iy', 'cell', 'f', 'p', 'i', 'k', 'nCand', 'best', 'missing',
      'x:f64', 'y:f64', 'dx:f64', 'dy:f64', 'd:f64', 'bestD:f64', 'maxDx2:f64', 'minDyy:f64', 'bound:f64']);
  const $ = f.vars;
  const outAt = add(add($.out, mul($.f, $.outStride)), $.cell);
  const widerDx2 = (x: Expr): Code[] => [set($.dx, sub(f64(add($.px, $.i)), x)), when(gt(mul($.dx, $.dx), $.maxDx2), [set($.maxDx2, mul($.dx, $.dx))])];
  f.body = [
    // The largest dx * dx of any point and cell: (px - x)^2 is largest at an end of the axis,
    // in floating point too (subtraction and squaring round monotonically).
    set($.maxDx2, F(0)),
    forRange($.i, I(0), $.n, () => [...widerDx2(f64($.gx)), ...widerDx2(f64(add($.gx, sub($.nx, I(1)))))]),
    forRange($.iy, I(0), $.ny, () => [
      set($.y, f64(add($.gy, $.iy))),
      // Per row, dy * dy of each point; a point whose dy * dy alone exceeds the smallest dy * dy
      // plus maxDx2 is farther from every cell of the row than some other point (rounding is
      // monotone, so also in floating point) and is left out: the candidates, in index order.
      set($.minDyy, F(Infinity)),
      forRange($.i, I(0), $.n, () => [
        set($.dy, sub(f64(add($.py, $.i)), $.y)),
        set($.d, mul($.dy, $.dy)),
        setF64(add($.dyy, $.i), $.d),
        when(lt($.d, $.minDyy), [set($.minDyy, $.d)]),
      ]),
      set($.bound, add($.maxDx2, $.minDyy)),
      set($.nCand, I(0)),
      forRange($.i, I(0), $.n, () => [
        when(eqz(gt(f64(add($.dyy, $.i)), $.bound)), [setI32(add($.cand, $.nCand), $.i), set($.nCand, add($.nCand, I(1)))]),
      ]),
      forRange($.ix, I(0), $.nx, (next) => [
        set($.cell, add(mul($.iy, $.nx), $.ix)),
        set($.missing, I(0)),
        forRange($.f, I(0), $.nFields, () => [set($.p, outAt), when(ne(f64($.p), f64($.p)), [set($.missing, I(1))])]),
        brIf(next, eqz($.missing)),
        set($.x, f64(add($.gx, $.ix))),
        set($.best, I(-1)),
        set($.bestD, F(Infinity)),
        forRange($.k, I(0), $.nCand, () => [
          set($.i, i32(add($.cand, $.k))),
          set($.dx, sub(f64(add($.px, $.i)), $.x)),
          set($.d, add(mul($.dx, $.dx), f64(add($.dyy, $.i)))),
          when(le($.d, $.bestD), [set($.best, $.i), set($.bestD, $.d)]),
        ]),
        // No point at a comparable distance (NaN coordinates): the cell stays NaN.
        brIf(next, lt($.best, I(0))),
        forRange($.f, I(0), $.nFields, () => [
          set($.p, outAt),
          when(ne(f64($.p), f64($.p)), [setF64($.p, f64(add(add($.values, mul($.f, $.n)), $.best)))]),
        ]),
      ]),
    ]),
  ];
  return f;
}

// ---- A small structured-code emitter for the binary format ---------------------------------------
// Values are i32 or f64. Code is a flat list of bytes plus markers for the structure: a block or
// loop opening (with its label), its end, and a branch to a label, whose relative depth is only
// known when the whole function is laid out (emitCode).

type ValueType = 'i32' | 'f64';
interface Label { readonly label: true }
type Piece = number | { open: Label; op: number } | { close: true } | { branch: Label; op: number };
type Code = Piece[];
interface Expr { type: ValueType; code: Code }

const TYPE_CODE: Record<ValueType, number> = { i32: 0x7f, f64: 0x7c };

class Func {
  readonly params: ValueType[] = [];
  readonly locals: ValueType[] = [];
  readonly vars: Record<string, Expr & { index: number }> = {};
  body: Code[] = [];

  /** Parameters and locals as 'name' (i32) or 'name:f64'. */
  constructor(readonly name: string, readonly result: ValueType | null, params: string[], locals: string[]) {
    let index = 0;
    for (const [list, decls] of [[this.params, params], [this.locals, locals]] as const) {
      for (const decl of decls) {
        const [name, type = 'i32'] = decl.split(':') as [string, ValueType?];
        list.push(type);
        this.vars[name] = { type, index, code: [0x20, ...uleb(index)] };
        index++;
      }
    }
  }
}

const I = (v: number): Expr => ({ type: 'i32', code: [0x41, ...sleb(v)] });
const F = (v: number): Expr => {
  const bytes = new Uint8Array(new Float64Array([v]).buffer);
  return { type: 'f64', code: [0x44, ...bytes] };
};
const binary = (i32Op: number, f64Op: number, result?: ValueType) => (a: Expr, b: Expr): Expr => {
  if (a.type !== b.type) throw new Error('wasm-kernels: operands of different types');
  const op = a.type === 'i32' ? i32Op : f64Op;
  if (op < 0) throw new Error(`wasm-kernels: no ${a.type} form of this operation`);
  return { type: result ?? a.type, code: [...a.code, ...b.code, op] };
};
const unaryF64 = (op: number) => (a: Expr): Expr => ({ type: 'f64', code: [...a.code, op] });
const add = binary(0x6a, 0xa0);
const sub = binary(0x6b, 0xa1);
const mul = binary(0x6c, 0xa2);
const div = binary(-1, 0xa3);
const min = binary(-1, 0xa4);
const max = binary(-1, 0xa5);
const abs = unaryF64(0x99);
const neg = unaryF64(0x9a);
const eq = binary(0x46, 0x61, 'i32');
const ne = binary(0x47, 0x62, 'i32');
const lt = binary(0x48, 0x63, 'i32');
const gt = binary(0x4a, 0x64, 'i32');
const le = binary(0x4c, 0x65, 'i32');
const ge = binary(0x4e, 0x66, 'i32');
const eqz = (a: Expr): Expr => ({ type: 'i32', code: [...a.code, 0x45] });
/** Byte address of element `index` of a view with elements of 2^shift bytes. */
const address = (index: Expr, shift: number): Code => (shift === 0 ? index.code : [...index.code, ...I(shift).code, 0x74]);
// Loads and stores: opcode, alignment (log2), offset 0.
const f64 = (index: Expr): Expr => ({ type: 'f64', code: [...address(index, 3), 0x2b, 3, 0] });
const i32 = (index: Expr): Expr => ({ type: 'i32', code: [...address(index, 2), 0x28, 2, 0] });
const u8 = (index: Expr): Expr => ({ type: 'i32', code: [...address(index, 0), 0x2d, 0, 0] });
const setF64 = (index: Expr, v: Expr): Code => [...address(index, 3), ...v.code, 0x39, 3, 0];
const setU8 = (index: Expr, v: Expr): Code => [...address(index, 0), ...v.code, 0x3a, 0, 0];
const setI32 = (index: Expr, v: Expr): Code => [...address(index, 2), ...v.code, 0x36, 2, 0];
const set = (local: Expr & { index: number }, v: Expr): Code => {
  if (v.type !== local.type) throw new Error('wasm-kernels: assignment of another type');
  return [...v.code, 0x21, ...uleb(local.index)];
};
const ret = (v: Expr): Code => [...v.code, 0x0f];
const brIf = (label: Label, cond: Expr): Code => [...cond.code, { branch: label, op: 0x0d }];
const br = (label: Label): Code => [{ branch: label, op: 0x0c }];
const newLabel = (): Label => ({ label: true });
const block = (op: number, label: Label, body: Code[]): Code => [{ open: label, op }, ...body.flat(), { close: true }];
/** if (cond) { then } else { otherwise }. */
const when = (cond: Expr, then: Code[], otherwise: Code[] = []): Code => {
  const label = newLabel();
  return [...cond.code, { open: label, op: 0x04 }, ...then.flat(), ...(otherwise.length ? [0x05, ...otherwise.flat()] : []), { close: true }];
};
/** for (v = from; v < to; v++) body, where a branch to `next` ends the iteration (continue). */
const forRange = (v: Expr & { index: number }, from: Expr, to: Expr, body: (next: Label) => Code[]): Code => {
  const exit = newLabel(), again = newLabel(), next = newLabel();
  return [
    ...set(v, from),
    ...block(0x02, exit, [
      block(0x03, again, [
        brIf(exit, ge(v, to)),
        block(0x02, next, body(next)),
        set(v, add(v, I(1))),
        br(again),
      ]),
    ]),
  ];
};

/** A function's body bytes: branch depths resolved against the enclosing labels. */
function emitCode(code: Code): number[] {
  const out: number[] = [];
  const open: Label[] = [];
  for (const piece of code) {
    if (typeof piece === 'number') out.push(piece);
    else if ('open' in piece) {
      out.push(piece.op, 0x40);
      open.push(piece.open);
    } else if ('close' in piece) {
      out.push(0x0b);
      open.pop();
    } else {
      const at = open.lastIndexOf(piece.branch);
      if (at < 0) throw new Error('wasm-kernels: branch to a label outside its block');
      out.push(piece.op, ...uleb(open.length - 1 - at));
    }
  }
  if (open.length !== 0) throw new Error('wasm-kernels: unclosed block');
  return out;
}

function emitModule(funcs: Func[]): Uint8Array {
  const name = (s: string) => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
  const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()];
  const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];
  const types = funcs.map((f) => [0x60, ...vec(f.params.map((t) => [TYPE_CODE[t]])), ...(f.result ? [1, TYPE_CODE[f.result]] : [0])]);
  const bodies = funcs.map((f) => {
    // Locals in runs of one type: (count, type).
    const runs: number[][] = [];
    for (let i = 0; i < f.locals.length; ) {
      let j = i;
      while (j < f.locals.length && f.locals[j] === f.locals[i]) j++;
      runs.push([...uleb(j - i), TYPE_CODE[f.locals[i]!]]);
      i = j;
    }
    const body = [...vec(runs), ...emitCode(f.body.flat()), 0x0b];
    return [...uleb(body.length), ...body];
  });
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
    ...section(1, vec(types)),
    ...section(2, vec([[...name('k'), ...name('m'), 0x02, 0x00, 0x01]])), // memory k.m, at least 1 page
    ...section(3, vec(funcs.map((_, i) => uleb(i)))),
    ...section(7, vec(funcs.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]))),
    ...section(10, vec(bodies)),
  ]);
}

function uleb(v: number): number[] {
  const out: number[] = [];
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

function sleb(v: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

/** The generated file holding the module's bytes. */
export function kernelModuleSource(): string {
  const base64 = Buffer.from(kernelModuleBytes()).toString('base64');
  const lines = base64.match(/.{1,96}/g)!.map((line) => `  '${line}'`).join(' +\n');
  return `// Generated by \`node dist/src/profile-data/wasm-kernels-source.js --write\` from wasm-kernels-source.ts; do not edit.\n` +
    `// The WebAssembly module of wasm-kernels.ts, base64.\nexport const KERNEL_MODULE_BASE64 =\n${lines};\n`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // dist/src/profile-data/ -> src/profile-data/
  const target = fileURLToPath(new URL('../../../src/profile-data/wasm-kernels-module.ts', import.meta.url));
  const fresh = kernelModuleSource();
  if (process.argv.includes('--write')) writeFileSync(target, fresh);
  else if (process.argv.includes('--check')) {
    const stale = readFileSync(target, 'utf8') !== fresh;
    if (stale) process.stderr.write(`${target} is stale: run node dist/src/profile-data/wasm-kernels-source.js --write\n`);
    process.exitCode = stale ? 1 : 0;
  } else process.stdout.write(fresh);
}
