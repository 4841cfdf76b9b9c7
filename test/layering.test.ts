// The import graph runs one way: a folder of src/ may import only from folders below it here.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/** Bottom first. Folders on the same row may not import each other. */
const LAYERS: string[][] = [
  ['util'],
  ['net', 'trace'],
  ['config', 'profile-data'],
  ['predict'],
  ['scaling'],
  ['observe', 'actuate', 'sim', 'profiler'],
  // mock engines from the simulator's model, scaled through the virtual environment's etcd keys
  ['mocker'],
  ['runtime'],
  ['commands'],
  // src/main.ts (the command table) and src/cli.ts
  ['(top)'],
  ['docs'],
];

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('layering of src/', () => {
  const rank = new Map<string, number>();
  LAYERS.forEach((row, i) => row.forEach((f) => rank.set(f, i)));

  it('every folder of src/ has a layer', () => {
    const folders = readdirSync('src').filter((n) => statSync(join('src', n)).isDirectory());
    expect(folders.filter((f) => !rank.has(f))).toEqual([]);
    expect(LAYERS.flat().filter((f) => f !== '(top)' && !folders.includes(f))).toEqual([]);
  });

  it('no import runs from a lower layer up, or sideways within a layer', () => {
    const violations: string[] = [];
    for (const file of filesUnder('src')) {
      const parts = relative('src', file).split('/');
      if (parts.length < 2) continue; // cli.ts and main.ts sit on top
      const from = parts[0];
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/(?:from|import\()\s*'(\.\.?\/[^']+)'/g)) {
        const target = relative('src', join(file, '..', m[1])).split('/');
        const to = target.length > 1 ? target[0] : '(top)';
        if (to === '..' || to === from) continue;
        if (!(rank.get(to)! < rank.get(from)!)) violations.push(`${file} (${from}) imports ${m[1]} (${to})`);
      }
    }
    expect(violations).toEqual([]);
  });
});
