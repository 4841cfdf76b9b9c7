// Replay of Qhull's Delaunay build (scipy.spatial.Delaunay: options "Qbb Qc Qz Q12", plus "Qt"),
// to break the ties of a non-unique triangulation as Qhull does.
//
// Qhull builds the Delaunay triangulation as the lower convex hull of the points lifted onto a
// paraboloid, by quickhull: it repeatedly takes the furthest outside point of the first facet in
// its facet list that has one. Where the triangulation is not unique (four or more cocircular
// points: a planar polygonal facet of the lifted hull), option Qt splits the polygon into a fan
// from its vertex created last; of exact duplicates, the point that reaches the hull first is the
// vertex. Both follow from the order in which points become vertices, and that order depends on
// Qhull's bookkeeping, not on geometry alone (tied distances are settled by its rounding), so we
// replay the build step by step, with Qhull's arithmetic where ties can hinge on the last bit:
// lifting and "Qbb" scaling, the initial simplex, outside sets (furthest point last), the facet
// list and its cursor, horizon search, the order in which the cone of new facets is made, the
// search for a new facet for each orphaned point, and the merging of new facets into coplanar
// horizon facets (cocircular points). Qhull's other merges (concave or coplanar new facets by
// centrum test, vertex merges) are not replayed: they occur only for nearly collinear or nearly
// cocircular points, where delaunay.ts checks the result and can fall back to its own answer.
// Checked against qhull 2020.2 traces (T4) and scipy 1.17 on the H100 sweeps and ~580 lattices
// and synthetic sweeps: same vertex order in all but one, same triangulation in all but 3.

const REAL_EPSILON = 2.220446049250313e-16;

interface Facet {
  id: number;
  /** Point indices of the vertices, newest vertex first. */
  verts: number[];
  /** For a simplicial facet, nbrs[i] is the facet opposite verts[i]. */
  nbrs: Facet[];
  normal: [number, number, number];
  offset: number;
  outside: number[];
  furthestDist: number;
  upper: boolean;
  simplicial: boolean;
  isNew: boolean;
  visible: boolean;
  coplanarHorizon: boolean;
  replace: Facet | null;
  visitId: number;
  deleted: boolean;
  /** Ridges, once Qhull has made them for this facet (merges); null before. */
  ridges: Ridge[] | null;
}

interface Ridge {
  /** Point indices, newest vertex first. */
  verts: number[];
  a: Facet;
  b: Facet;
}

export interface QhullDelaunay {
  /**
   * Point indices in the order Qhull makes them vertices (the point at infinity excluded).
   * Points missing here are no vertices (duplicates, nearly incident points).
   */
  order: number[];
  /**
   * The Delaunay regions (lower facets of the lifted hull) as point indices, newest vertex
   * first: triangles, and polygons where Qhull merged cocircular triangles.
   */
  regions: number[][];
}

/** Point indices in the order Qhull makes them vertices (see QhullDelaunay.order). */
export function qhullVertexOrder(xs: number[], ys: number[]): number[] {
  return qhullDelaunay(xs, ys).order;
}

/**
 * Replay Qhull's Delaunay build of the points (xs[i], ys[i]). Throws if Qhull could not start
 * (no initial simplex: all points collinear) or the replay loses its way.
 */
export function qhullDelaunay(xs: number[], ys: number[]): QhullDelaunay {
  const n = xs.length;
  // Lift to the paraboloid and add the "Qz" point above the centroid.
  const P: Array<[number, number, number]> = [];
  let sx = 0, sy = 0, maxBoloid = 0;
  for (let i = 0; i < n; i++) {
    const x = xs[i]!, y = ys[i]!;
    const z = x * x + y * y;
    P.push([x, y, z]);
    sx += x;
    sy += y;
    if (z > maxBoloid) maxBoloid = z;
  }
  P.push([sx / n, sy / n, maxBoloid * 1.1]);
  const N = n + 1;
  // "Qbb": scale the lifted coordinate to [0, max |other coordinate|] (Qhull's exact formula).
  let lowZ = Infinity, highZ = -Infinity, maxAbs = 0;
  for (const p of P) {
    lowZ = Math.min(lowZ, p[2]);
    highZ = Math.max(highZ, p[2]);
    maxAbs = Math.max(maxAbs, Math.abs(p[0]), Math.abs(p[1]));
  }
  {
    const newHigh = maxAbs;
    const scale = newHigh / (highZ - lowZ);
    const shift = -(lowZ * scale);
    for (const p of P) p[2] = p[2] * scale + shift;
  }
  // Qhull's round-off bounds and the tolerances derived from them.
  const dim = 3;
  const maxDistSum = Math.sqrt(dim) * maxAbs;
  const distRound = REAL_EPSILON * (dim * maxDistSum * 1.01 + maxAbs);
  const minVisible = 2 * distRound;
  const maxCoplanar = 2 * distRound;
  const minOutside = 2 * minVisible;
  let maxOutside = 0;
  let totMerge = 0;
  const useFindBestNew = () => totMerge > 50; // Qhull searches all new facets after many merges
  const distOutside = () => (useFindBestNew() ? 2 : 1) * Math.max(2 * minOutside, maxOutside);
  const searchDist = () => (useFindBestNew() ? 2 : 1) * (maxOutside + 2 * distRound + Math.max(minVisible, maxCoplanar));

  // Extremes per coordinate (first point wins ties).
  const minPt = [0, 0, 0], maxPt = [0, 0, 0];
  for (let i = 1; i < N; i++) {
    for (let k = 0; k < 3; k++) {
      if (P[maxPt[k]!]![k]! < P[i]![k]!) maxPt[k] = i;
      else if (P[minPt[k]!]![k]! > P[i]![k]!) minPt[k] = i;
    }
  }
  const maxWidth = Math.max(P[maxPt[0]!]![0] - P[minPt[0]!]![0], P[maxPt[1]!]![1] - P[minPt[1]!]![1]);
  // Determinants below 10 * this are "nearly zero" (per dimension of the simplex so far).
  const absMax = [0, 0, 0];
  for (const p of P) for (let k = 0; k < 3; k++) absMax[k] = Math.max(absMax[k]!, Math.abs(p[k]!));
  const nearZero = [80 * REAL_EPSILON * absMax[0]!, 80 * REAL_EPSILON * (absMax[0]! + absMax[1]!), 80 * REAL_EPSILON * (absMax[0]! + absMax[1]! + absMax[2]!)];
  const maxPoints = [minPt[0]!, maxPt[0]!, minPt[1]!, maxPt[1]!, minPt[2]!, maxPt[2]!];

  // Initial simplex: the x extremes among the extreme points, then the extreme point spanning
  // the largest area, then volume; all points are searched only when that is (nearly) zero.
  let minX = -1, maxX = -1;
  for (const p of maxPoints) {
    if (maxX < 0 || P[maxX]![0] < P[p]![0]) maxX = p;
    if (minX < 0 || P[minX]![0] > P[p]![0]) minX = p;
  }
  const simplex: number[] = [minX];
  if (maxX !== minX) simplex.push(maxX);
  if (simplex.length < 2) throw new Error('qhull-order: all points share one x');
  const detSimplex = (p: number, k: number): [number, boolean] => {
    const r = simplex.slice(0, k).map((s) => [P[s]![0] - P[p]![0], P[s]![1] - P[p]![1], P[s]![2] - P[p]![2]] as const);
    if (k === 2) {
      const det = r[0]![0] * r[1]![1] - r[0]![1] * r[1]![0];
      return [Math.abs(det), Math.abs(det) < 10 * nearZero[1]!];
    }
    const a = r[0]!, b = r[1]!, c = r[2]!;
    const det2 = (p1: number, p2: number, q1: number, q2: number) => p1 * q2 - p2 * q1;
    const det = a[0]! * det2(b[1]!, b[2]!, c[1]!, c[2]!) - b[0]! * det2(a[1]!, a[2]!, c[1]!, c[2]!) + c[0]! * det2(a[1]!, a[2]!, b[1]!, b[2]!);
    return [Math.abs(det), Math.abs(det) < 10 * nearZero[2]!];
  };
  let maxDet = P[maxX]![0] - P[minX]![0];
  for (let k = 2; k < 4; k++) {
    const prevDet = maxDet;
    let best = -1, bestNear = false;
    maxDet = -1;
    for (const p of maxPoints) {
      if (simplex.includes(p) || p === best) continue;
      const [d, near] = detSimplex(p, k);
      if (d > maxDet) [best, maxDet, bestNear] = [p, d, near];
    }
    const targetDet = prevDet * maxWidth;
    const minDet = 0.01 * targetDet;
    const falseNarrow = maxDet > 0 && maxDet / targetDet < 0.001;
    if (best < 0 || bestNear || falseNarrow) {
      for (let p = 0; p < N; p++) {
        if (maxPoints.includes(p) || simplex.includes(p)) continue;
        const [d, near] = detSimplex(p, k);
        if (d > maxDet) {
          [best, maxDet, bestNear] = [p, d, near];
          if (!bestNear && maxDet > minDet) break;
        }
      }
    }
    if (best < 0 || maxDet === 0) throw new Error('qhull-order: degenerate initial simplex');
    simplex.push(best);
  }
  const vid = new Int32Array(N).fill(-1);
  let vidCounter = 0;
  const order: number[] = [];
  for (const s of simplex) {
    vid[s] = ++vidCounter;
    order.push(s);
  }
  // Facets are oriented away from the centre of the initial simplex.
  const interior: [number, number, number] = [0, 0, 0];
  for (let k = 0; k < 3; k++) {
    for (const s of simplex) interior[k] += P[s]![k]!;
    interior[k] /= 4;
  }

  const dist = (p: number, f: Facet): number => {
    const q = P[p]!;
    return f.offset + q[0] * f.normal[0] + q[1] * f.normal[1] + q[2] * f.normal[2];
  };
  let facetId = 0;
  const setPlane = (f: Facet) => {
    const a = P[f.verts[0]!]!, b = P[f.verts[1]!]!, c = P[f.verts[2]!]!;
    const dx1 = b[0]! - a[0]!, dy1 = b[1]! - a[1]!, dz1 = b[2]! - a[2]!;
    const dx2 = c[0]! - a[0]!, dy2 = c[1]! - a[1]!, dz2 = c[2]! - a[2]!;
    let n0 = dy2 * dz1 - dz2 * dy1;
    let n1 = dx1 * dz2 - dz1 * dx2;
    let n2 = dx2 * dy1 - dy2 * dx1;
    const norm = Math.sqrt(n0 * n0 + n1 * n1 + n2 * n2);
    n0 /= norm;
    n1 /= norm;
    n2 /= norm;
    let off = -(a[0]! * n0 + a[1]! * n1 + a[2]! * n2);
    if (off + interior[0] * n0 + interior[1] * n1 + interior[2] * n2 > 0) {
      n0 = -n0;
      n1 = -n1;
      n2 = -n2;
      off = -off;
    }
    f.normal = [n0, n1, n2];
    f.offset = off;
    // Upper Delaunay facets (not part of the triangulation): normal not clearly downwards.
    f.upper = n2 > -2 * (1.01 * 3 * REAL_EPSILON);
  };
  const newFacet = (verts: number[]): Facet => ({
    id: ++facetId, verts, nbrs: [], normal: [0, 0, 0], offset: 0, outside: [], furthestDist: 0, upper: false,
    simplicial: true, isNew: false, visible: false, coplanarHorizon: false, replace: null, visitId: 0, deleted: false, ridges: null,
  });
  const byVid = (a: number, b: number) => vid[b]! - vid[a]!;

  // The facet list and its cursors (null stands for the list's tail).
  const list: Facet[] = [];
  let facetNext: Facet | null = null;
  let newfacetList: Facet | null = null;
  const nextOf = (f: Facet): Facet | null => list[list.indexOf(f) + 1] ?? null;
  const removeFacet = (f: Facet) => {
    const i = list.indexOf(f);
    const next = list[i + 1] ?? null;
    if (newfacetList === f) newfacetList = next;
    if (facetNext === f) facetNext = next;
    list.splice(i, 1);
  };
  const appendFacet = (f: Facet) => {
    list.push(f);
    if (facetNext === null) facetNext = f;
  };
  let visit = 0;

  // Initial hull: facet k is opposite simplex vertex 3-k.
  const initial: Facet[] = [];
  for (let k = 3; k >= 0; k--) {
    const f = newFacet(simplex.filter((_, j) => j !== k).sort(byVid));
    initial.push(f);
  }
  for (const f of initial) {
    f.nbrs = f.verts.map((v) => initial.find((g) => g !== f && !g.verts.includes(v))!);
    setPlane(f);
    appendFacet(f);
  }
  let minAngle = Infinity;
  for (const f of initial) for (const g of f.nbrs) minAngle = Math.min(minAngle, f.normal[0] * g.normal[0] + f.normal[1] * g.normal[1] + f.normal[2] * g.normal[2]);
  // A nearly flat initial simplex makes Qhull keep nearly coplanar points as outside points.
  const narrowHull = minAngle < -0.99999999;

  let findBestNewFlag = false;
  let findBestNotSharp = false;
  // True if the new facets' normals do not all lie in one orthant.
  const sharpNewFacets = (): boolean => {
    const i0 = newfacetList ? list.indexOf(newfacetList) : -1;
    if (i0 < 0) return false;
    const q = list[i0]!.normal.map((c) => c > 0);
    for (let i = i0 + 1; i < list.length; i++) {
      const nrm = list[i]!.normal;
      if (nrm.some((c, k) => (c > 0) !== q[k])) return true;
    }
    return false;
  };

  const findBestHorizon = (p: number, start: Facet, bestDist0: number): [Facet, number] => {
    let best = start, bestDist = bestDist0;
    const vis = ++visit;
    const sd = searchDist();
    let minSearch = bestDist - sd;
    const stack: Facet[] = [];
    let facet: Facet | null = start;
    let nextFacet: Facet | null = null;
    for (;;) {
      const nbs: Facet[] = (facet as Facet).nbrs;
      for (let i = 0; i < nbs.length; i++) {
        const nb: Facet = nbs[i]!;
        if (nb.visitId === vis) continue;
        nb.visitId = vis;
        const d = dist(p, nb);
        if (d > bestDist) {
          if (!nb.upper || d >= minOutside) {
            best = nb;
            bestDist = d;
            minSearch = d - sd;
          }
        } else if (d < minSearch) continue;
        if (nextFacet) stack.push(nextFacet);
        nextFacet = nb;
      }
      facet = nextFacet;
      if (facet) nextFacet = null;
      else if (stack.length === 0) break;
      else facet = stack.pop()!;
    }
    return [best, bestDist];
  };

  const findBestNew = (p: number, start: Facet): [Facet, number, boolean] => {
    let bestDist = -Number.MAX_VALUE / 2;
    let best: Facet | null = null;
    const vis = ++visit;
    const dOut = distOutside();
    for (let pass = 0; pass < 2; pass++) {
      let i = pass === 0 ? list.indexOf(start) : newfacetList ? list.indexOf(newfacetList) : list.length;
      for (; i >= 0 && i < list.length; i++) {
        const f = list[i]!;
        if (pass === 1 && f === start) break;
        f.visitId = vis;
        const d = dist(p, f);
        if (d > bestDist && (!f.upper || d >= minOutside)) {
          best = f;
          if (d >= dOut) return [f, d, true];
          bestDist = d;
        }
      }
    }
    const [b, d] = findBestHorizon(p, best ?? start, bestDist);
    return [b, d, d >= minOutside];
  };

  const findBest = (p: number, start: Facet): [Facet, number, boolean] => {
    const vis = ++visit;
    let d = dist(p, start);
    if (d >= minOutside) return [start, d, true];
    let bestDist = d;
    let best: Facet | null = start.upper ? null : start;
    start.visitId = vis;
    let facet: Facet | null = start;
    let last: Facet = start;
    while (facet) {
      last = facet;
      let moved: Facet | null = null;
      for (const nb of facet.nbrs) {
        if (!nb.isNew) continue;
        if (nb.visitId === vis) continue;
        nb.visitId = vis;
        d = dist(p, nb);
        if (d > bestDist) {
          if (d >= minOutside) return [nb, d, true];
          if (!nb.upper) {
            best = nb;
            bestDist = d;
            moved = nb;
            break;
          } else if (!best) {
            bestDist = d;
            moved = nb;
            break;
          }
        }
      }
      facet = moved;
    }
    if (!best) return findBestNew(p, newfacetList ?? start);
    if (!findBestNotSharp && bestDist < -distRound) {
      if (sharpNewFacets()) {
        findBestNewFlag = true;
        return findBestNew(p, best);
      }
      findBestNotSharp = true;
    }
    const [b, bd] = findBestHorizon(p, best ?? last, bestDist);
    return [b, bd, bd >= minOutside];
  };

  const partitionPoint = (p: number, start: Facet) => {
    let [best, d, isOutside] = findBestNewFlag ? findBestNew(p, start) : findBest(p, start);
    if (narrowHull && d >= -maxCoplanar) isOutside = true;
    if (!isOutside) return; // coplanar or inside: never a vertex
    let isNewOutside = false;
    if (best.outside.length === 0) {
      best.outside.push(p);
      if (!narrowHull || d > minOutside) isNewOutside = true;
      best.furthestDist = d;
    } else {
      const prev = best.furthestDist;
      if (prev < d) {
        best.outside.push(p);
        best.furthestDist = d;
        if (narrowHull && prev < minOutside && d >= minOutside) isNewOutside = true;
      } else best.outside.splice(best.outside.length - 1, 0, p);
    }
    if (isNewOutside && facetNext !== best) {
      if (best.isNew) {
        if (facetNext && facetNext.isNew) facetNext = newfacetList;
      } else {
        removeFacet(best);
        appendFacet(best);
        if (newfacetList) best.isNew = true;
      }
    }
  };

  // Partition all points: the first facet each is clearly outside of, furthest last.
  {
    let pool: number[] = [];
    for (let i = 0; i < N; i++) if (vid[i]! < 0) pool.push(i);
    const dOut = distOutside();
    for (const f of [...list]) {
      let bestPoint = -1, bestDist = 0;
      const rest: number[] = [];
      for (const p of pool) {
        const d = dist(p, f);
        if (d < dOut) rest.push(p);
        else if (bestPoint < 0) [bestPoint, bestDist] = [p, d];
        else if (d > bestDist) {
          f.outside.push(bestPoint);
          [bestPoint, bestDist] = [p, d];
        } else f.outside.push(p);
      }
      if (bestPoint >= 0) {
        f.outside.push(bestPoint);
        f.furthestDist = bestDist;
      }
      pool = rest;
    }
    findBestNewFlag = true;
    for (const p of pool) partitionPoint(p, list[0]!);
    findBestNewFlag = false;
  }
  // Start with the facet that has the furthest point.
  {
    let best: Facet | null = null;
    for (const f of list) if (f.outside.length > 0 && (!best || f.furthestDist > best.furthestDist)) best = f;
    if (best && best !== list[0]) {
      list.splice(list.indexOf(best), 1);
      list.unshift(best);
    }
    facetNext = list[0] ?? null;
  }

  // Qhull's unordered set delete: the last element takes the deleted slot (order matters later).
  const setDel = <T,>(arr: T[], x: T) => {
    const i = arr.indexOf(x);
    if (i < 0) return;
    const last = arr.pop()!;
    if (i < arr.length) arr[i] = last;
  };

  const addPoint = (p: number, facet: Facet) => {
    // Visible facets and horizon.
    removeFacet(facet);
    appendFacet(facet);
    const visible: Facet[] = [facet];
    facet.visible = true;
    facet.replace = null;
    const vis = ++visit;
    for (let k = 0; k < visible.length; k++) {
      const v = visible[k]!;
      v.visitId = vis;
      for (const nb of v.nbrs) {
        if (nb.visitId === vis) continue;
        nb.visitId = vis;
        const d = dist(p, nb);
        if (d > minVisible) {
          removeFacet(nb);
          appendFacet(nb);
          nb.visible = true;
          nb.replace = null;
          visible.push(nb);
        } else {
          nb.coplanarHorizon = d >= -maxCoplanar;
          if (nb.coplanarHorizon && d > 0) maxOutside = Math.max(maxOutside, d);
        }
      }
    }
    // Cone of new facets: per visible facet, first across its ridges (if it has any), then
    // across the remaining horizon neighbours in neighbour order.
    vid[p] = ++vidCounter;
    order.push(p);
    const created: Facet[] = [];
    const other = (r: Ridge, f: Facet) => (r.a === f ? r.b : r.a);
    // Like Qhull, the last new facet of the previous visible facets carries over (see below).
    let lastRidgeNew: Facet | null = null;
    let lastNew: Facet | null = null;
    for (const v of visible) {
      const seen = new Set<Facet>();
      if (v.ridges) {
        lastRidgeNew = null;
        for (const r of v.ridges) {
          const nb = other(r, v);
          if (nb.visible) continue;
          const nf = newFacet([p, ...r.verts]);
          nf.nbrs = [nb];
          nf.isNew = true;
          if (nb.simplicial) {
            // The ridge of a simplicial horizon facet is dropped (its neighbour slot says it all).
            setDel(nb.ridges!, r);
          } else {
            if (r.a === v) r.a = nf;
            else r.b = nf;
            nf.ridges = [r];
          }
          const i = nb.nbrs.indexOf(v);
          if (!seen.has(nb) && i >= 0) nb.nbrs[i] = nf;
          else nb.nbrs.push(nf);
          seen.add(nb);
          appendFacet(nf);
          created.push(nf);
          lastRidgeNew = nf;
        }
      }
      if (v.simplicial) {
        lastNew = null;
        v.nbrs.forEach((nb, k) => {
          if (nb.visible || seen.has(nb)) return;
          const nf = newFacet([p, ...v.verts.filter((_, j) => j !== k)]);
          nf.nbrs = [nb];
          nf.isNew = true;
          const i = nb.nbrs.indexOf(v);
          if (i >= 0) nb.nbrs[i] = nf;
          else nb.nbrs.push(nf);
          appendFacet(nf);
          created.push(nf);
          lastNew = nf;
        });
      }
      // Qhull keeps the ridge-built result of an earlier visible facet when this one has no
      // ridges, so the replacement (where repartitioning starts) can be another facet's.
      if (lastRidgeNew) lastNew = lastRidgeNew;
      v.replace = lastNew;
    }
    newfacetList = created[0] ?? null;
    // Link the new facets to each other across the edges through the apex.
    for (const nf of created) {
      for (let j = 1; j < nf.verts.length; j++) {
        const keep = nf.verts.filter((_, k) => k !== j && k !== 0)[0]!;
        const mate = created.find((g) => g !== nf && g.verts.includes(keep));
        nf.nbrs[j] = mate!;
      }
      setPlane(nf);
    }
    const makeRidges = (f: Facet) => {
      if (!f.ridges) f.ridges = [];
      if (!f.simplicial) return;
      const has = new Set(f.ridges.map((r) => other(r, f)));
      f.nbrs.forEach((nb, k) => {
        if (has.has(nb)) return;
        const r: Ridge = { verts: f.verts.filter((_, j) => j !== k), a: f, b: nb };
        f.ridges!.push(r);
        (nb.ridges ??= []).push(r);
      });
    };
    // Merge new facets into coplanar horizon facets.
    let merged = false;
    const done = new Set<Facet>();
    for (const nf of created) {
      if (done.has(nf)) continue;
      const h = nf.nbrs[0]!;
      if (!h.coplanarHorizon) continue;
      const cycle = created.filter((g) => !done.has(g) && g.nbrs[0] === h);
      for (const g of cycle) {
        done.add(g);
        makeRidges(g);
        makeRidges(h);
        if (!h.verts.includes(p)) h.verts = [...h.verts, p].sort(byVid);
        setDel(h.nbrs, g);
        const gr = g.ridges!;
        for (let i = 0; i < gr.length; i++) {
          const r = gr[i]!;
          const o = other(r, g);
          if (o === h) {
            setDel(gr, r);
            setDel(h.ridges!, r);
            i--;
            continue;
          }
          if (r.a === g) r.a = h;
          else r.b = h;
          h.ridges!.push(r);
          if (!h.nbrs.includes(o)) {
            h.nbrs.push(o);
            const k = o.nbrs.indexOf(g);
            if (k >= 0) o.nbrs[k] = h;
          } else setDel(o.nbrs, g);
        }
        g.deleted = true;
        g.visible = true;
        g.replace = h;
        removeFacet(g);
        totMerge++;
      }
      h.simplicial = false;
      removeFacet(h);
      appendFacet(h);
      h.isNew = true;
      merged = true;
    }
    const firstNew = list.findIndex((f) => f.isNew && !f.visible);
    newfacetList = firstNew >= 0 ? list[firstNew]! : null;
    findBestNewFlag = merged || useFindBestNew() || list.some((f) => f.isNew && !f.simplicial);
    // Repartition the outside points of the visible facets.
    for (const v of visible) {
      if (v.outside.length === 0) continue;
      let start: Facet | null = v.replace;
      while (start && start.visible) start = start.replace;
      if (!start) start = newfacetList!;
      const pts = v.outside;
      v.outside = [];
      for (const q of pts) partitionPoint(q, start);
    }
    for (const v of visible) {
      v.deleted = true;
      if (list.includes(v)) removeFacet(v);
    }
    for (const f of list) f.isNew = false;
    findBestNotSharp = false;
    newfacetList = null;
    findBestNewFlag = false;
  };

  for (;;) {
    let facet: Facet | null = null;
    while (facetNext) {
      const f: Facet = facetNext;
      if (f.outside.length === 0) {
        facetNext = nextOf(f);
        continue;
      }
      if (narrowHull && f.furthestDist < minOutside) {
        facetNext = nextOf(f);
        continue;
      }
      facet = f;
      break;
    }
    if (!facet) break;
    const p = facet.outside.pop()!;
    addPoint(p, facet);
  }
  return {
    order: order.filter((p) => p < n),
    regions: list.filter((f) => !f.upper && !f.deleted && !f.visible).map((f) => [...f.verts]),
  };
}
