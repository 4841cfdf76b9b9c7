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

//
// Written for a cold process (it runs once, at start-up, mostly in V8's interpreter): facets are
// one class (one object shape), the facet list is doubly linked as in Qhull (no index searches),
// points are flat typed arrays, and the hot paths allocate no closures or temporary arrays.

const REAL_EPSILON = 2.220446049250313e-16;

class Facet {
  /** For a simplicial facet, nbrs[i] is the facet opposite verts[i]. */
  nbrs: Facet[] = [];
  /** Unit normal (away from the hull's interior) and offset: distance = offset + normal . point. */
  n0 = 0;
  n1 = 0;
  n2 = 0;
  offset = 0;
  /** Outside points, the furthest last. */
  outside: number[] = [];
  furthestDist = 0;
  upper = false;
  simplicial = true;
  isNew = false;
  visible = false;
  coplanarHorizon = false;
  replace: Facet | null = null;
  visitId = 0;
  /** Stamp of the last pass that marked this facet (cone building, merging). */
  markId = 0;
  deleted = false;
  /** Ridges, once Qhull has made them for this facet (merges); null before. */
  ridges: Ridge[] | null = null;
  /** The facet list's links (inList: currently on it). */
  prev: Facet | null = null;
  next: Facet | null = null;
  inList = false;

  /** Point indices of the vertices, newest vertex first. */
  constructor(public verts: number[]) {}
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

/** Qhull's unordered set delete: the last element takes the deleted slot (order matters later). */
function setDel<T>(arr: T[], x: T): void {
  const i = arr.indexOf(x);
  if (i < 0) return;
  const last = arr.pop()!;
  if (i < arr.length) arr[i] = last;
}

function otherSide(r: Ridge, f: Facet): Facet {
  return r.a === f ? r.b : r.a;
}

/** [apex, ...verts without the one at index `skip`] (skip -1: all of them). */
function withApex(apex: number, verts: number[], skip: number): number[] {
  const out = [apex];
  for (let j = 0; j < verts.length; j++) if (j !== skip) out.push(verts[j]!);
  return out;
}

/** The vertices of `verts` without the one at index `skip`, in order. */
function without(verts: number[], skip: number): number[] {
  const out: number[] = [];
  for (let j = 0; j < verts.length; j++) if (j !== skip) out.push(verts[j]!);
  return out;
}

/**
 * Replay Qhull's Delaunay build of the points (xs[i], ys[i]). Throws if Qhull could not start
 * (no initial simplex: all points collinear) or the replay loses its way.
 */
export function qhullDelaunay(xs: number[], ys: number[]): QhullDelaunay {
  const n = xs.length;
  const N = n + 1;
  // Lift to the paraboloid and add the "Qz" point above the centroid.
  const px = new Float64Array(N), py = new Float64Array(N), pz = new Float64Array(N);
  let sx = 0, sy = 0, maxBoloid = 0;
  for (let i = 0; i < n; i++) {
    const x = xs[i]!, y = ys[i]!;
    const z = x * x + y * y;
    px[i] = x;
    py[i] = y;
    pz[i] = z;
    sx += x;
    sy += y;
    if (z > maxBoloid) maxBoloid = z;
  }
  px[n] = sx / n;
  py[n] = sy / n;
  pz[n] = maxBoloid * 1.1;
  const coord = (i: number, k: number): number => (k === 0 ? px[i]! : k === 1 ? py[i]! : pz[i]!);
  // "Qbb": scale the lifted coordinate to [0, max |other coordinate|] (Qhull's exact formula).
  let lowZ = Infinity, highZ = -Infinity, maxAbs = 0;
  for (let i = 0; i < N; i++) {
    lowZ = Math.min(lowZ, pz[i]!);
    highZ = Math.max(highZ, pz[i]!);
    maxAbs = Math.max(maxAbs, Math.abs(px[i]!), Math.abs(py[i]!));
  }
  {
    const newHigh = maxAbs;
    const scale = newHigh / (highZ - lowZ);
    const shift = -(lowZ * scale);
    for (let i = 0; i < N; i++) pz[i] = pz[i]! * scale + shift;
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
  // Qhull searches all new facets after many merges.
  const distOutside = () => (totMerge > 50 ? 2 : 1) * Math.max(2 * minOutside, maxOutside);
  const searchDist = () => (totMerge > 50 ? 2 : 1) * (maxOutside + 2 * distRound + Math.max(minVisible, maxCoplanar));

  // Extremes per coordinate (first point wins ties).
  const minPt = [0, 0, 0], maxPt = [0, 0, 0];
  const axes = [px, py, pz];
  for (let k = 0; k < 3; k++) {
    const axis = axes[k]!;
    let lo = 0, hi = 0;
    for (let i = 1; i < N; i++) {
      if (axis[hi]! < axis[i]!) hi = i;
      else if (axis[lo]! > axis[i]!) lo = i;
    }
    minPt[k] = lo;
    maxPt[k] = hi;
  }
  const maxWidth = Math.max(px[maxPt[0]!]! - px[minPt[0]!]!, py[maxPt[1]!]! - py[minPt[1]!]!);
  // Determinants below 10 * this are "nearly zero" (per dimension of the simplex so far).
  const absMax = [0, 0, 0];
  for (let k = 0; k < 3; k++) {
    const axis = axes[k]!;
    let m = 0;
    for (let i = 0; i < N; i++) m = Math.max(m, Math.abs(axis[i]!));
    absMax[k] = m;
  }
  const nearZero = [80 * REAL_EPSILON * absMax[0]!, 80 * REAL_EPSILON * (absMax[0]! + absMax[1]!), 80 * REAL_EPSILON * (absMax[0]! + absMax[1]! + absMax[2]!)];
  const maxPoints = [minPt[0]!, maxPt[0]!, minPt[1]!, maxPt[1]!, minPt[2]!, maxPt[2]!];

  // Initial simplex: the x extremes among the extreme points, then the extreme point spanning
  // the largest area, then volume; all points are searched only when that is (nearly) zero.
  let minX = -1, maxX = -1;
  for (const p of maxPoints) {
    if (maxX < 0 || px[maxX]! < px[p]!) maxX = p;
    if (minX < 0 || px[minX]! > px[p]!) minX = p;
  }
  const simplex: number[] = [minX];
  if (maxX !== minX) simplex.push(maxX);
  if (simplex.length < 2) throw new Error('qhull-order: all points share one x');
  // |det| of the simplex so far with p, and whether it is nearly zero.
  let nearlyZero = false;
  const detSimplex = (p: number, k: number): number => {
    const s0 = simplex[0]!, s1 = simplex[1]!;
    const a0 = px[s0]! - px[p]!, a1 = py[s0]! - py[p]!, a2 = pz[s0]! - pz[p]!;
    const b0 = px[s1]! - px[p]!, b1 = py[s1]! - py[p]!, b2 = pz[s1]! - pz[p]!;
    if (k === 2) {
      const det = a0 * b1 - a1 * b0;
      nearlyZero = Math.abs(det) < 10 * nearZero[1]!;
      return Math.abs(det);
    }
    const s2 = simplex[2]!;
    const c0 = px[s2]! - px[p]!, c1 = py[s2]! - py[p]!, c2 = pz[s2]! - pz[p]!;
    const det = a0 * (b1 * c2 - b2 * c1) - b0 * (a1 * c2 - a2 * c1) + c0 * (a1 * b2 - a2 * b1);
    nearlyZero = Math.abs(det) < 10 * nearZero[2]!;
    return Math.abs(det);
  };
  let maxDet = px[maxX]! - px[minX]!;
  for (let k = 2; k < 4; k++) {
    const prevDet = maxDet;
    let best = -1, bestNear = false;
    maxDet = -1;
    for (const p of maxPoints) {
      if (simplex.includes(p) || p === best) continue;
      const d = detSimplex(p, k);
      if (d > maxDet) [best, maxDet, bestNear] = [p, d, nearlyZero];
    }
    const targetDet = prevDet * maxWidth;
    const minDet = 0.01 * targetDet;
    const falseNarrow = maxDet > 0 && maxDet / targetDet < 0.001;
    if (best < 0 || bestNear || falseNarrow) {
      for (let p = 0; p < N; p++) {
        if (maxPoints.includes(p) || simplex.includes(p)) continue;
        const d = detSimplex(p, k);
        if (d > maxDet) {
          [best, maxDet, bestNear] = [p, d, nearlyZero];
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
  const interior = [0, 0, 0];
  for (let k = 0; k < 3; k++) {
    for (const s of simplex) interior[k] += coord(s, k);
    interior[k] /= 4;
  }
  const [i0, i1, i2] = interior as [number, number, number];

  // The signed distance of point p from facet f's plane is f.offset + px[p] * f.n0 + py[p] * f.n1
  // + pz[p] * f.n2, written out where needed: as a small function called this often, V8 would
  // compile it with its optimising compiler, which costs more than the whole replay.
  const setPlane = (f: Facet) => {
    const a = f.verts[0]!, b = f.verts[1]!, c = f.verts[2]!;
    const dx1 = px[b]! - px[a]!, dy1 = py[b]! - py[a]!, dz1 = pz[b]! - pz[a]!;
    const dx2 = px[c]! - px[a]!, dy2 = py[c]! - py[a]!, dz2 = pz[c]! - pz[a]!;
    let n0 = dy2 * dz1 - dz2 * dy1;
    let n1 = dx1 * dz2 - dz1 * dx2;
    let n2 = dx2 * dy1 - dy2 * dx1;
    const norm = Math.sqrt(n0 * n0 + n1 * n1 + n2 * n2);
    n0 /= norm;
    n1 /= norm;
    n2 /= norm;
    let off = -(px[a]! * n0 + py[a]! * n1 + pz[a]! * n2);
    if (off + i0 * n0 + i1 * n1 + i2 * n2 > 0) {
      n0 = -n0;
      n1 = -n1;
      n2 = -n2;
      off = -off;
    }
    f.n0 = n0;
    f.n1 = n1;
    f.n2 = n2;
    f.offset = off;
    // Upper Delaunay facets (not part of the triangulation): normal not clearly downwards.
    f.upper = n2 > -2 * (1.01 * 3 * REAL_EPSILON);
  };
  const byVid = (a: number, b: number) => vid[b]! - vid[a]!;

  // The facet list (doubly linked, as Qhull's) and its cursors (null stands for the list's tail).
  let head: Facet | null = null;
  let tail: Facet | null = null;
  let facetNext: Facet | null = null;
  let newfacetList: Facet | null = null;
  const removeFacet = (f: Facet) => {
    if (!f.inList) throw new Error('qhull-order: the facet list lost its way');
    const next = f.next;
    if (newfacetList === f) newfacetList = next;
    if (facetNext === f) facetNext = next;
    if (f.prev) f.prev.next = next;
    else head = next;
    if (next) next.prev = f.prev;
    else tail = f.prev;
    f.prev = f.next = null;
    f.inList = false;
  };
  const appendFacet = (f: Facet) => {
    if (f.inList) throw new Error('qhull-order: the facet list lost its way');
    f.prev = tail;
    f.next = null;
    if (tail) tail.next = f;
    else head = f;
    tail = f;
    f.inList = true;
    if (facetNext === null) facetNext = f;
  };
  // The list's head (a function: TypeScript cannot see the closures above assign it).
  const first = (): Facet | null => head;
  let visit = 0;
  let mark = 0;

  // Initial hull: facet k is opposite simplex vertex 3-k.
  const initial: Facet[] = [];
  for (let k = 3; k >= 0; k--) initial.push(new Facet(without(simplex, k).sort(byVid)));
  for (const f of initial) {
    f.nbrs = f.verts.map((v) => initial.find((g) => g !== f && !g.verts.includes(v))!);
    setPlane(f);
    appendFacet(f);
  }
  let minAngle = Infinity;
  for (const f of initial) for (const g of f.nbrs) minAngle = Math.min(minAngle, f.n0 * g.n0 + f.n1 * g.n1 + f.n2 * g.n2);
  // A nearly flat initial simplex makes Qhull keep nearly coplanar points as outside points.
  const narrowHull = minAngle < -0.99999999;

  let findBestNewFlag = false;
  let findBestNotSharp = false;
  // True if the new facets' normals do not all lie in one orthant.
  const sharpNewFacets = (): boolean => {
    const first = newfacetList;
    if (!first || !first.inList) return false;
    const q0 = first.n0 > 0, q1 = first.n1 > 0, q2 = first.n2 > 0;
    for (let f = first.next; f; f = f.next) if (f.n0 > 0 !== q0 || f.n1 > 0 !== q1 || f.n2 > 0 !== q2) return true;
    return false;
  };

  // The searches below answer with a facet and set these two.
  let foundDist = 0;
  let foundOutside = false;
  const stack: Facet[] = [];

  const findBestHorizon = (p: number, start: Facet, bestDist0: number): Facet => {
    const x = px[p]!, y = py[p]!, z = pz[p]!;
    let best = start, bestDist = bestDist0;
    const vis = ++visit;
    const sd = searchDist();
    let minSearch = bestDist - sd;
    stack.length = 0;
    let facet: Facet | null = start;
    let nextFacet: Facet | null = null;
    for (;;) {
      const nbs: Facet[] = facet!.nbrs;
      for (let i = 0; i < nbs.length; i++) {
        const nb = nbs[i]!;
        if (nb.visitId === vis) continue;
        nb.visitId = vis;
        const d = nb.offset + x * nb.n0 + y * nb.n1 + z * nb.n2;
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
    foundDist = bestDist;
    return best;
  };

  const findBestNew = (p: number, start: Facet): Facet => {
    const x = px[p]!, y = py[p]!, z = pz[p]!;
    let bestDist = -Number.MAX_VALUE / 2;
    let best: Facet | null = null;
    const vis = ++visit;
    const dOut = distOutside();
    for (let pass = 0; pass < 2; pass++) {
      let f: Facet | null = pass === 0 ? (start.inList ? start : null) : newfacetList && newfacetList.inList ? newfacetList : null;
      for (; f; f = f.next) {
        if (pass === 1 && f === start) break;
        f.visitId = vis;
        const d = f.offset + x * f.n0 + y * f.n1 + z * f.n2;
        if (d > bestDist && (!f.upper || d >= minOutside)) {
          best = f;
          if (d >= dOut) {
            foundDist = d;
            foundOutside = true;
            return f;
          }
          bestDist = d;
        }
      }
    }
    const b = findBestHorizon(p, best ?? start, bestDist);
    foundOutside = foundDist >= minOutside;
    return b;
  };

  const findBest = (p: number, start: Facet): Facet => {
    const x = px[p]!, y = py[p]!, z = pz[p]!;
    const vis = ++visit;
    let d = start.offset + x * start.n0 + y * start.n1 + z * start.n2;
    if (d >= minOutside) {
      foundDist = d;
      foundOutside = true;
      return start;
    }
    let bestDist = d;
    let best: Facet | null = start.upper ? null : start;
    start.visitId = vis;
    let facet: Facet | null = start;
    let last: Facet = start;
    while (facet) {
      last = facet;
      let moved: Facet | null = null;
      const nbs: Facet[] = facet.nbrs;
      for (let i = 0; i < nbs.length; i++) {
        const nb: Facet = nbs[i]!;
        if (!nb.isNew) continue;
        if (nb.visitId === vis) continue;
        nb.visitId = vis;
        d = nb.offset + x * nb.n0 + y * nb.n1 + z * nb.n2;
        if (d > bestDist) {
          if (d >= minOutside) {
            foundDist = d;
            foundOutside = true;
            return nb;
          }
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
    const b = findBestHorizon(p, best ?? last, bestDist);
    foundOutside = foundDist >= minOutside;
    return b;
  };

  const partitionPoint = (p: number, start: Facet) => {
    const best = findBestNewFlag ? findBestNew(p, start) : findBest(p, start);
    const d = foundDist;
    const isOutside = foundOutside || (narrowHull && d >= -maxCoplanar);
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
    for (let fAt = 0; fAt < initial.length; fAt++) {
      const f = initial[fAt]!;
      let bestPoint = -1, bestDist = 0;
      const rest: number[] = [];
      for (let pAt = 0; pAt < pool.length; pAt++) {
        const p = pool[pAt]!;
        const d = f.offset + px[p]! * f.n0 + py[p]! * f.n1 + pz[p]! * f.n2;
        if (d < dOut) rest.push(p);
        else if (bestPoint < 0) {
          bestPoint = p;
          bestDist = d;
        } else if (d > bestDist) {
          f.outside.push(bestPoint);
          bestPoint = p;
          bestDist = d;
        } else f.outside.push(p);
      }
      if (bestPoint >= 0) {
        f.outside.push(bestPoint);
        f.furthestDist = bestDist;
      }
      pool = rest;
    }
    findBestNewFlag = true;
    for (let i = 0; i < pool.length; i++) partitionPoint(pool[i]!, first()!);
    findBestNewFlag = false;
  }
  // Start with the facet that has the furthest point.
  {
    let best: Facet | null = null;
    for (let f = first(); f; f = f.next) if (f.outside.length > 0 && (!best || f.furthestDist > best.furthestDist)) best = f;
    const front = first()!;
    if (best && best !== front) {
      removeFacet(best);
      best.next = front;
      front.prev = best;
      head = best;
      best.inList = true;
    }
    facetNext = first();
  }

  const addPoint = (p: number, facet: Facet) => {
    const x = px[p]!, y = py[p]!, z = pz[p]!;
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
      const nbs: Facet[] = v.nbrs;
      for (let i = 0; i < nbs.length; i++) {
        const nb: Facet = nbs[i]!;
        if (nb.visitId === vis) continue;
        nb.visitId = vis;
        const d = nb.offset + x * nb.n0 + y * nb.n1 + z * nb.n2;
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
    // Like Qhull, the last new facet of the previous visible facets carries over (see below).
    let lastRidgeNew: Facet | null = null;
    let lastNew: Facet | null = null;
    for (let vAt = 0; vAt < visible.length; vAt++) {
      const v = visible[vAt]!;
      // Horizon facets already given a new facet across one of v's ridges carry this mark.
      const seen = ++mark;
      if (v.ridges) {
        lastRidgeNew = null;
        for (let rAt = 0; rAt < v.ridges.length; rAt++) {
          const r = v.ridges[rAt]!;
          const nb = otherSide(r, v);
          if (nb.visible) continue;
          const nf = new Facet(withApex(p, r.verts, -1));
          nf.nbrs.push(nb);
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
          if (nb.markId !== seen && i >= 0) nb.nbrs[i] = nf;
          else nb.nbrs.push(nf);
          nb.markId = seen;
          appendFacet(nf);
          created.push(nf);
          lastRidgeNew = nf;
        }
      }
      if (v.simplicial) {
        lastNew = null;
        const nbs: Facet[] = v.nbrs;
        for (let k = 0; k < nbs.length; k++) {
          const nb: Facet = nbs[k]!;
          if (nb.visible || nb.markId === seen) continue;
          const nf = new Facet(withApex(p, v.verts, k));
          nf.nbrs.push(nb);
          nf.isNew = true;
          const i = nb.nbrs.indexOf(v);
          if (i >= 0) nb.nbrs[i] = nf;
          else nb.nbrs.push(nf);
          appendFacet(nf);
          created.push(nf);
          lastNew = nf;
        }
      }
      // Qhull keeps the ridge-built result of an earlier visible facet when this one has no
      // ridges, so the replacement (where repartitioning starts) can be another facet's.
      if (lastRidgeNew) lastNew = lastRidgeNew;
      v.replace = lastNew;
    }
    newfacetList = created[0] ?? null;
    // Link the new facets to each other across the edges through the apex: the mate across the
    // edge (apex, keep) is the first other new facet holding `keep`.
    for (let nfAt = 0; nfAt < created.length; nfAt++) {
      const nf = created[nfAt]!;
      for (let j = 1; j < nf.verts.length; j++) {
        const keep = nf.verts[j === 1 ? 2 : 1]!;
        let mate: Facet | undefined;
        for (let gAt = 0; gAt < created.length; gAt++) {
          const g = created[gAt]!;
          if (g !== nf && g.verts.includes(keep)) {
            mate = g;
            break;
          }
        }
        nf.nbrs[j] = mate!;
      }
      setPlane(nf);
    }
    const makeRidges = (f: Facet) => {
      if (!f.ridges) f.ridges = [];
      if (!f.simplicial) return;
      const had = f.ridges.length;
      const nbs = f.nbrs;
      for (let k = 0; k < nbs.length; k++) {
        const nb = nbs[k]!;
        let has = false;
        for (let i = 0; i < had && !has; i++) has = otherSide(f.ridges[i]!, f) === nb;
        if (has) continue;
        const r: Ridge = { verts: without(f.verts, k), a: f, b: nb };
        f.ridges.push(r);
        (nb.ridges ??= []).push(r);
      }
    };
    // Merge new facets into coplanar horizon facets.
    let merged = false;
    const done = ++mark;
    for (let nfAt = 0; nfAt < created.length; nfAt++) {
      const nf = created[nfAt]!;
      if (nf.markId === done) continue;
      const h = nf.nbrs[0]!;
      if (!h.coplanarHorizon) continue;
      const cycle: Facet[] = [];
      for (let i = 0; i < created.length; i++) {
        const g = created[i]!;
        if (g.markId !== done && g.nbrs[0] === h) cycle.push(g);
      }
      for (let gAt = 0; gAt < cycle.length; gAt++) {
        const g = cycle[gAt]!;
        g.markId = done;
        makeRidges(g);
        makeRidges(h);
        if (!h.verts.includes(p)) h.verts = [...h.verts, p].sort(byVid);
        setDel(h.nbrs, g);
        const gr = g.ridges!;
        for (let i = 0; i < gr.length; i++) {
          const r = gr[i]!;
          const o = otherSide(r, g);
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
    newfacetList = null;
    let nonSimplicialNew = false;
    for (let f = first(); f; f = f.next) {
      if (!f.isNew) continue;
      if (!f.visible && !newfacetList) newfacetList = f;
      if (!f.simplicial) nonSimplicialNew = true;
    }
    findBestNewFlag = merged || totMerge > 50 || nonSimplicialNew;
    // Repartition the outside points of the visible facets.
    for (let vAt = 0; vAt < visible.length; vAt++) {
      const v = visible[vAt]!;
      if (v.outside.length === 0) continue;
      let start: Facet | null = v.replace;
      while (start && start.visible) start = start.replace;
      if (!start) start = newfacetList!;
      const pts = v.outside;
      v.outside = [];
      for (let i = 0; i < pts.length; i++) partitionPoint(pts[i]!, start);
    }
    for (let vAt = 0; vAt < visible.length; vAt++) {
      const v = visible[vAt]!;
      v.deleted = true;
      if (v.inList) removeFacet(v);
    }
    for (let f = first(); f; f = f.next) f.isNew = false;
    findBestNotSharp = false;
    newfacetList = null;
    findBestNewFlag = false;
  };

  // Each step makes one point a vertex, and a point is made a vertex at most once.
  for (let steps = 0; ; steps++) {
    if (steps > N) throw new Error('qhull-order: the build did not terminate');
    let facet: Facet | null = null;
    while (facetNext) {
      const f: Facet = facetNext;
      if (f.outside.length === 0 || (narrowHull && f.furthestDist < minOutside)) {
        facetNext = f.next;
        continue;
      }
      facet = f;
      break;
    }
    if (!facet) break;
    const p = facet.outside.pop()!;
    addPoint(p, facet);
  }
  const regions: number[][] = [];
  for (let f = first(); f; f = f.next) if (!f.upper && !f.deleted && !f.visible) regions.push(f.verts.slice());
  return { order: order.filter((p) => p < n), regions };
}
