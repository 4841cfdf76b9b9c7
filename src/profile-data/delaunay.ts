// Delaunay triangulation of a small 2-D point set (the decode sweep: tens to a few hundred
// points) that copes with the degenerate layouts this data has: many collinear points (one row
// per context length, and the one-request points of all rows on a line through the origin),
// exactly cocircular quads (KV-usage values shared across rows) and exact duplicate points.
//
// Method: sweep-line fan triangulation of the points sorted lexicographically, then Lawson edge
// flips until every interior edge is locally Delaunay. That fixes the triangulation wherever it
// is unique. Where it is not, we make Qhull's choice (scipy's griddata triangulates with Qhull),
// because the Clough-Tocher gradient fit spreads a different choice across the whole grid:
// - of exact duplicates, the vertex is the point Qhull inserts first;
// - a polygon of four or more cocircular points is split into a fan from the polygon's vertex
//   that Qhull inserted last (its option Qt triangulates a merged facet from the newest vertex).
// Both need Qhull's insertion order, which qhull-order.ts reproduces by replaying Qhull's build;
// its result also carries Qhull's Delaunay regions, which we use directly when they form a valid
// triangulation (so nearly cocircular or collinear points, which Qhull settles with its own
// round-off tolerances, come out as in Qhull too). Otherwise the sweep-and-flip triangulation
// with the tie-breaks above is the answer.
import { qhullDelaunay, type QhullDelaunay } from './qhull-order.js';

/** Relative size below which a predicate's determinant counts as zero (see delaunay()). */
const ROUNDOFF = 1e-12;

export interface Triangulation {
  /** Triangles as point indices (into the input arrays), counter-clockwise. */
  triangles: Array<[number, number, number]>;
  /** neighbors[t][k]: the triangle across the edge opposite vertex k of triangle t, or -1. */
  neighbors: Array<[number, number, number]>;
  /** Input indices that are vertices (each distinct location once). */
  vertices: number[];
}

/**
 * Delaunay triangulation of the distinct points among (xs[i], ys[i]). Ties (duplicates,
 * cocircular points) are broken as Qhull breaks them (`tieBreak` 'qhull', the default), or
 * without regard to Qhull: of duplicates the first or the last index is the vertex and cocircular
 * polygons keep the sweep's diagonals.
 * Throws if the points are all collinear or fewer than three distinct points exist.
 */
export function delaunay(xs: number[], ys: number[], tieBreak: 'qhull' | 'first' | 'last' = 'qhull'): Triangulation {
  // Orientation and in-circle signs, with results within a relative 1e-12 of zero taken as
  // exactly zero. The profiler's points are computed in floating point: e.g. the one-request
  // points of every row satisfy kv = context / max_kv_tokens, so they are collinear up to
  // rounding. Qhull (behind scipy) treats such points as collinear/cocircular within its
  // round-off bound too; exact predicates would instead build zero-area sliver triangles there.
  const orient = (a: number, b: number, c: number): number => {
    const l = (xs[b]! - xs[a]!) * (ys[c]! - ys[a]!);
    const r = (ys[b]! - ys[a]!) * (xs[c]! - xs[a]!);
    const det = l - r;
    return Math.abs(det) <= ROUNDOFF * (Math.abs(l) + Math.abs(r)) ? 0 : Math.sign(det);
  };
  // > 0 when d lies strictly inside the circle through the counter-clockwise triangle a, b, c.
  const inCircle = (a: number, b: number, c: number, d: number): number => {
    const ax = xs[a]! - xs[d]!, ay = ys[a]! - ys[d]!;
    const bx = xs[b]! - xs[d]!, by = ys[b]! - ys[d]!;
    const cx = xs[c]! - xs[d]!, cy = ys[c]! - ys[d]!;
    const a2 = ax * ax + ay * ay, b2 = bx * bx + by * by, c2 = cx * cx + cy * cy;
    const t1 = ax * (by * c2 - b2 * cy);
    const t2 = ay * (bx * c2 - b2 * cx);
    const t3 = a2 * (bx * cy - by * cx);
    const det = t1 - t2 + t3;
    const permanent =
      Math.abs(ax) * (Math.abs(by * c2) + Math.abs(b2 * cy)) +
      Math.abs(ay) * (Math.abs(bx * c2) + Math.abs(b2 * cx)) +
      a2 * (Math.abs(bx * cy) + Math.abs(by * cx));
    return Math.abs(det) <= ROUNDOFF * permanent ? 0 : Math.sign(det);
  };

  // rank[i]: when Qhull makes point i a vertex (-1: never, e.g. a later duplicate).
  const rank = new Array<number>(xs.length).fill(-1);
  if (tieBreak === 'qhull') {
    let qhull: QhullDelaunay | null = null;
    try {
      qhull = qhullDelaunay(xs, ys);
    } catch {
      // Qhull's own initial simplex is degenerate here; the checks below report why.
    }
    if (qhull) {
      const fromQhull = triangulateRegions(xs, ys, qhull.regions);
      if (fromQhull) {
        const used = new Uint8Array(xs.length);
        for (let t = 0; t < fromQhull.length; t++) {
          const tri = fromQhull[t]!;
          used[tri[0]] = used[tri[1]] = used[tri[2]] = 1;
        }
        const vertices: number[] = [];
        for (let i = 0; i < xs.length; i++) if (used[i]) vertices.push(i);
        return withNeighbors(fromQhull, vertices);
      }
      qhull.order.forEach((p, r) => (rank[p] = r));
    }
  }
  // Distinct locations, sorted lexicographically by (x, y).
  const byLocation = new Map<string, number>();
  xs.forEach((x, i) => {
    const key = `${x},${ys[i]}`;
    const kept = byLocation.get(key);
    if (kept === undefined || tieBreak === 'last' || (tieBreak === 'qhull' && rank[i]! >= 0 && (rank[kept]! < 0 || rank[i]! < rank[kept]!))) byLocation.set(key, i);
  });
  const pts = [...byLocation.values()].sort((i, j) => xs[i]! - xs[j]! || ys[i]! - ys[j]!);
  if (pts.length < 3) throw new Error('delaunay: fewer than 3 distinct points');

  const tris: Array<[number, number, number]> = [];
  let k = 2;
  while (k < pts.length && orient(pts[0]!, pts[1]!, pts[k]!) === 0) k++;
  if (k === pts.length) throw new Error('delaunay: all points are collinear');
  const apex = pts[k]!;
  const side = orient(pts[0]!, pts[1]!, apex);
  let hull: number[];
  for (let i = 0; i + 1 < k; i++) {
    tris.push(side > 0 ? [pts[i]!, pts[i + 1]!, apex] : [pts[i + 1]!, pts[i]!, apex]);
  }
  hull = side > 0 ? [...pts.slice(0, k), apex] : [...pts.slice(0, k).reverse(), apex];

  // Each later point is lexicographically beyond all earlier ones, so it is outside their hull:
  // fan it to every hull edge it sees (strictly, so no zero-area triangle is made).
  for (let n = k + 1; n < pts.length; n++) {
    const p = pts[n]!;
    const m = hull.length;
    const visible = hull.map((h, i) => orient(h, hull[(i + 1) % m]!, p) < 0);
    const s = visible.findIndex((v, i) => v && !visible[(i - 1 + m) % m]);
    // A point beyond the hull sees at least one edge and never all of them.
    if (s < 0) throw new Error(`delaunay: point ${p} (${xs[p]}, ${ys[p]}) sees no hull edge`);
    let t = s;
    while (visible[t % m]) {
      const a = hull[t % m]!;
      const b = hull[(t + 1) % m]!;
      tris.push([b, a, p]);
      t++;
    }
    const next: number[] = [p];
    for (let i = t; ; i++) {
      next.push(hull[i % m]!);
      if (i % m === s % m) break;
    }
    hull = next;
  }

  // Lawson flips. Directed edge a->b maps to the triangle holding it.
  const N = xs.length;
  const edgeOwner = new Map<number, number>();
  const key = (a: number, b: number) => a * N + b;
  const register = (t: number) => {
    const [a, b, c] = tris[t]!;
    edgeOwner.set(key(a, b), t);
    edgeOwner.set(key(b, c), t);
    edgeOwner.set(key(c, a), t);
  };
  tris.forEach((_, t) => register(t));
  const stack: Array<[number, number]> = [];
  for (const [a, b, c] of tris) stack.push([a, b], [b, c], [c, a]);
  let guard = 0;
  while (stack.length > 0) {
    if (++guard > 1_000_000) throw new Error('delaunay: edge flipping did not terminate');
    const [a, b] = stack.pop()!;
    const t1 = edgeOwner.get(key(a, b));
    const t2 = edgeOwner.get(key(b, a));
    if (t1 === undefined || t2 === undefined) continue;
    const c = thirdVertex(tris[t1]!, a, b);
    const d = thirdVertex(tris[t2]!, b, a);
    if (inCircle(a, b, c, d) <= 0) continue;
    for (const [u, v] of [[a, b], [b, c], [c, a], [b, a], [a, d], [d, b]] as const) edgeOwner.delete(key(u, v));
    tris[t1] = [a, d, c];
    tris[t2] = [d, b, c];
    register(t1);
    register(t2);
    stack.push([a, d], [d, b], [b, c], [c, a]);
  }

  if (tieBreak === 'qhull') fanCocircularPolygons(tris, inCircle, orient, rank);
  return withNeighbors(tris, pts);
}

/**
 * Re-triangulate each polygon of cocircular points (triangles joined across edges whose
 * in-circle test is zero) as a fan from its vertex of highest rank, in place. A group whose fan
 * would not be a proper triangulation (tolerance chains that are not one convex polygon) keeps
 * its triangles.
 */
function fanCocircularPolygons(
  tris: Array<[number, number, number]>,
  inCircle: (a: number, b: number, c: number, d: number) => number,
  orient: (a: number, b: number, c: number) => number,
  rank: number[],
): void {
  const owner = new Map<string, number>();
  tris.forEach(([a, b, c], t) => {
    owner.set(`${a},${b}`, t);
    owner.set(`${b},${c}`, t);
    owner.set(`${c},${a}`, t);
  });
  const parent = tris.map((_, t) => t);
  const find = (t: number): number => (parent[t] === t ? t : (parent[t] = find(parent[t]!)));
  tris.forEach(([a, b, c], t) => {
    for (const [u, v, w] of [[a, b, c], [b, c, a], [c, a, b]] as const) {
      const o = owner.get(`${v},${u}`);
      if (o === undefined || o < t) continue;
      const d = thirdVertex(tris[o]!, v, u);
      if (inCircle(u, v, w, d) === 0) parent[find(o)] = find(t);
    }
  });
  const groups = new Map<number, number[]>();
  tris.forEach((_, t) => {
    const r = find(t);
    const g = groups.get(r);
    if (g) g.push(t);
    else groups.set(r, [t]);
  });
  for (const group of groups.values()) {
    if (group.length < 2) continue;
    // Boundary of the polygon: directed edges whose reverse lies outside the group.
    const inGroup = new Set(group);
    const next = new Map<number, number>();
    for (const t of group) {
      const [a, b, c] = tris[t]!;
      for (const [u, v] of [[a, b], [b, c], [c, a]] as const) {
        const o = owner.get(`${v},${u}`);
        if (o === undefined || !inGroup.has(o)) next.set(u, v);
      }
    }
    const apex = [...next.keys()].reduce((best, v) => (rank[v]! > rank[best]! ? v : best));
    const fan: Array<[number, number, number]> = [];
    let u = next.get(apex)!;
    let guard = 0;
    while (next.get(u) !== apex && guard++ <= next.size) {
      const v = next.get(u)!;
      fan.push([apex, u, v]);
      u = v;
    }
    if (fan.length !== group.length || fan.some(([a, b, c]) => orient(a, b, c) <= 0)) continue;
    group.forEach((t, i) => (tris[t] = fan[i]!));
  }
}

/**
 * Qhull's Delaunay regions as counter-clockwise triangles, a polygon as a fan from its first
 * (newest) vertex as Qhull's option Qt splits it; null unless they tile the convex hull of the
 * points with positive-area triangles, each edge used once per direction.
 */
function triangulateRegions(xs: number[], ys: number[], regions: number[][]): Array<[number, number, number]> | null {
  const cross = (o: number, a: number, b: number) => (xs[a]! - xs[o]!) * (ys[b]! - ys[o]!) - (ys[a]! - ys[o]!) * (xs[b]! - xs[o]!);
  const tris: Array<[number, number, number]> = [];
  for (let g = 0; g < regions.length; g++) {
    const region = regions[g]!;
    const boundary = region.length === 3 ? triangleHull(xs, ys, region[0]!, region[1]!, region[2]!) : convexHull(xs, ys, region);
    if (boundary.length !== region.length) return null;
    const apex = region[0]!;
    const at = boundary.indexOf(apex);
    for (let i = 1; i + 1 < boundary.length; i++) {
      tris.push([apex, boundary[(at + i) % boundary.length]!, boundary[(at + i + 1) % boundary.length]!]);
    }
  }
  // Directed edge u -> v as the number u * n + v.
  const n = xs.length;
  const edges = new Set<number>();
  let area = 0;
  for (let t = 0; t < tris.length; t++) {
    const tri = tris[t]!;
    const a = tri[0], b = tri[1], c = tri[2];
    const twice = cross(a, b, c);
    if (!(twice > 0)) return null;
    area += twice;
    const ab = a * n + b, bc = b * n + c, ca = c * n + a;
    if (edges.has(ab)) return null;
    edges.add(ab);
    if (edges.has(bc)) return null;
    edges.add(bc);
    if (edges.has(ca)) return null;
    edges.add(ca);
  }
  const all: number[] = [];
  for (let i = 0; i < n; i++) all.push(i);
  const hull = convexHull(xs, ys, all);
  let hullArea = 0;
  for (let i = 1; i + 1 < hull.length; i++) hullArea += cross(hull[0]!, hull[i]!, hull[i + 1]!);
  // Qhull may leave out a nearly collinear point on the hull boundary (a sliver of round-off size).
  return Math.abs(area - hullArea) <= 1e-7 * hullArea ? tris : null;
}

/**
 * convexHull() of three points, step for step (most regions are triangles, and the general
 * version's sorting and copying is most of a cold build's triangulation time).
 */
function triangleHull(xs: number[], ys: number[], a: number, b: number, c: number): number[] {
  if (!(Number.isFinite(xs[a]! + ys[a]! + xs[b]! + ys[b]! + xs[c]! + ys[c]!))) return convexHull(xs, ys, [a, b, c]);
  // The stable lexicographic sort of convexHull, by insertion.
  const after = (i: number, j: number) => xs[i]! - xs[j]! > 0 || (xs[i]! - xs[j]! === 0 && ys[i]! - ys[j]! > 0);
  let s0 = a, s1 = b, s2 = c;
  if (after(s0, s1)) [s0, s1] = [s1, s0];
  if (after(s1, s2)) {
    [s1, s2] = [s2, s1];
    if (after(s0, s1)) [s0, s1] = [s1, s0];
  }
  const cross = (o: number, p: number, q: number) => (xs[p]! - xs[o]!) * (ys[q]! - ys[o]!) - (ys[p]! - ys[o]!) * (xs[q]! - xs[o]!);
  // Lower chain s0, s1, s2 and upper chain s2, s1, s0, each without its last point; the middle
  // point stays on a chain when it turns left there.
  const lower = cross(s0, s1, s2) <= 0 ? [s0] : [s0, s1];
  const upper = cross(s2, s1, s0) <= 0 ? [s2] : [s2, s1];
  return lower.concat(upper);
}

/** Counter-clockwise convex hull (monotone chain, collinear points dropped) of the given points. */
function convexHull(xs: number[], ys: number[], points: number[]): number[] {
  const idx = points.slice().sort((a, b) => xs[a]! - xs[b]! || ys[a]! - ys[b]!);
  const cross = (o: number, a: number, b: number) => (xs[a]! - xs[o]!) * (ys[b]! - ys[o]!) - (ys[a]! - ys[o]!) * (xs[b]! - xs[o]!);
  const half = (order: number[]) => {
    const h: number[] = [];
    for (let i = 0; i < order.length; i++) {
      const p = order[i]!;
      while (h.length >= 2 && cross(h[h.length - 2]!, h[h.length - 1]!, p) <= 0) h.pop();
      h.push(p);
    }
    return h.slice(0, -1);
  };
  return half(idx).concat(half(idx.slice().reverse()));
}

/** Complete a triangulation given as counter-clockwise triangles with its adjacency. */
export function withNeighbors(triangles: Array<[number, number, number]>, vertices: number[]): Triangulation {
  // Directed edge u -> v as the number u * n + v (n above every index).
  // (Indexed loops, not destructuring: this runs once per build, interpreted, where destructuring
  // an array goes through the iterator protocol.)
  let n = 1;
  for (let t = 0; t < triangles.length; t++) {
    const tri = triangles[t]!;
    n = Math.max(n, tri[0] + 1, tri[1] + 1, tri[2] + 1);
  }
  const owner = new Map<number, number>();
  for (let t = 0; t < triangles.length; t++) {
    const tri = triangles[t]!;
    const a = tri[0], b = tri[1], c = tri[2];
    owner.set(a * n + b, t);
    owner.set(b * n + c, t);
    owner.set(c * n + a, t);
  }
  const across = (u: number, v: number) => owner.get(v * n + u) ?? -1;
  const neighbors: Array<[number, number, number]> = [];
  for (let t = 0; t < triangles.length; t++) {
    const tri = triangles[t]!;
    const a = tri[0], b = tri[1], c = tri[2];
    neighbors.push([across(b, c), across(c, a), across(a, b)]);
  }
  return { triangles, neighbors, vertices };
}

function thirdVertex(tri: [number, number, number], a: number, b: number): number {
  // tri holds the directed edge a->b; return the remaining vertex.
  const [p, q, r] = tri;
  if (p === a && q === b) return r;
  if (q === a && r === b) return p;
  return q;
}
