// Every decision case the original planner produced (test/fixtures/vectors/decisions),
// replayed interval by interval through our Planner.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/index.js';
import { buildInterpolators, loadProfileDir } from '../../src/profile-data/index.js';
import { Planner } from '../../src/scaling/planner.js';
import { replayObservations, type ReplayLine } from '../../src/scaling/replay.js';
import { parseObservation } from '../../src/scaling/observation.js';

import { DECISION_VECTORS, H100, fixturePath } from '../helpers/fixtures.js';
const DIR = DECISION_VECTORS;

interface Case {
  name: string;
  config: unknown;
  profileDir: string;
  observations: unknown[];
  expected: Record<string, unknown>[];
}

function jsonl(path: string): Record<string, unknown>[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

function loadCases(): Case[] {
  const files = readdirSync(DIR);
  const cases: Case[] = [];
  for (const f of files.filter((f) => f.endsWith('.config.json'))) {
    const name = f.replace(/\.config\.json$/, '');
    const model = readFileSync(join(DIR, `${name}.profile`), 'utf8').trim();
    cases.push({
      name,
      config: JSON.parse(readFileSync(join(DIR, f), 'utf8')),
      profileDir: join(H100, model, 'configmap'),
      observations: jsonl(join(DIR, `${name}.observations.jsonl`)),
      expected: jsonl(join(DIR, `${name}.expected.jsonl`)),
    });
  }
  for (const f of files.filter((f) => f.endsWith('.input.json'))) {
    const name = f.replace(/\.input\.json$/, '');
    const input = JSON.parse(readFileSync(join(DIR, f), 'utf8')) as { config: unknown; profile_dir: string; observations: unknown[] };
    cases.push({
      name,
      config: input.config,
      profileDir: fixturePath(input.profile_dir),
      observations: input.observations,
      expected: jsonl(join(DIR, `${name}.expected.jsonl`)),
    });
  }
  return cases;
}

const profiles = new Map<string, ReturnType<typeof buildInterpolators>>();
function interpolatorsFor(dir: string) {
  let it = profiles.get(dir);
  if (!it) profiles.set(dir, (it = buildInterpolators(loadProfileDir(dir))));
  return it;
}

function replay(c: Case): ReplayLine[] {
  const { config } = resolveConfig(c.config, { env: {} });
  const planner = new Planner({ config, interpolators: interpolatorsFor(c.profileDir) });
  const observations = c.observations.map((o, i) => parseObservation(o, `${c.name} observation ${i}`));
  return [...replayObservations(planner, observations)];
}

/**
 * The decode interpolator is the one input we do not reproduce bit for bit: its triangulation
 * now breaks ties (duplicate and cocircular sweep points) as Qhull does, but the nearest-point
 * fill outside the hull may take another of two duplicate points than scipy's kd-tree (up to
 * 0.13% on the H100 grids). So the decode correction factor (observed ITL / interpolated ITL) is
 * compared to 1%, everything else to 1e-9, and intervals where a decode cell still changes a
 * replica count would be pinned below: any other difference, or one of these going away, fails.
 */
const DECODE_CF_TOLERANCE = 0.01;
const KNOWN_DEVIATIONS: Record<string, number[]> = {};

/** Paths where `actual` differs from `expected` (numbers to a relative tolerance). */
function differences(actual: unknown, expected: unknown, path: string, out: string[]): string[] {
  if (typeof expected === 'number') {
    const tol = (path.endsWith('correction_factor.decode') ? DECODE_CF_TOLERANCE : 1e-9) * Math.max(1, Math.abs(expected));
    if (typeof actual !== 'number' || !(Math.abs(actual - expected) <= tol)) out.push(`${path}: ${String(actual)} vs ${expected}`);
  } else if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) out.push(`${path}: length ${Array.isArray(actual) ? actual.length : 'n/a'} vs ${expected.length}`);
    else expected.forEach((e, i) => differences(actual[i], e, `${path}[${i}]`, out));
  } else if (expected !== null && typeof expected === 'object') {
    for (const [k, e] of Object.entries(expected)) differences((actual as Record<string, unknown> | null)?.[k], e, `${path}.${k}`, out);
  } else if (actual !== expected) {
    out.push(`${path}: ${JSON.stringify(actual)} vs ${JSON.stringify(expected)}`);
  }
  return out;
}

const cases = loadCases();

describe('reference decision vectors', () => {
  it('finds every case', () => {
    expect(cases.length).toBe(10);
  });
  for (const c of cases) {
    it(`${c.name}: ${c.expected.length} intervals match the original`, () => {
      const lines = replay(c);
      expect(lines.length).toBe(c.expected.length);
      const diffs = c.expected.map((exp, i) => differences(lines[i], exp, `interval ${i}`, []));
      const deviating = diffs.flatMap((d, i) => (d.length > 0 ? [i] : []));
      expect(deviating, diffs.flat().join('\n')).toEqual(KNOWN_DEVIATIONS[c.name] ?? []);
      // A pinned deviation is a replica count only (a decode count, and the prefill count the shared
      // GPU budget derives from it); forecasts, floors and events still match.
      for (const i of deviating) for (const d of diffs[i]) expect(d).toMatch(/^interval \d+\.(prefill|decode): \d+ vs \d+$/);
    });
  }
});
