// The benchmarks that read data from outside the repository say so in one sentence and exit 2
// when that directory is missing, instead of a stack trace.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const empty = mkdtempSync(join(tmpdir(), 'bench-data-'));
const cases: Array<[string, string[], RegExp]> = [
  ['bench:predict', ['dist/bench/predict.js', '--traces', join(empty, 'missing')], /^bench:predict: no request traces .* in .*missing .*; pass --traces <dir>/],
  ['bench:predict (empty dir)', ['dist/bench/predict.js', '--traces', empty], /^bench:predict: no request traces .*; pass --traces <dir>/],
  ['bench:profile', ['dist/bench/profile.js', '--fixtures', empty], /^bench:profile: no H100 measurement files .*; pass --fixtures <dir>/],
  ['bench:sim', ['dist/bench/sim.js', '--table-only', '--traces', join(empty, 'missing')], /^bench:sim: .*missing.*--traces <dir>/],
];

describe('benchmarks without their data directory', () => {
  for (const [what, args, message] of cases) {
    it(`${what}: exit 2 with one sentence naming the flag`, () => {
      const r = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 60_000 });
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(message);
    }, 60_000);
  }
});
