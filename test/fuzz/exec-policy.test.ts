// Hostile `simulate --policy exec:` commands and answers: every case ends in an InputError of one
// sentence (exit 2) or a valid, budget-clamped answer; never a stack, a hang, an orphan process or
// unbounded memory.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ExecPolicy, parseExecAnswer, EXEC_MAX_UNASKED_LINES } from '../../src/sim/policies.js';
import { InputError } from '../../src/util/errors.js';
import type { PolicyContext } from '../../src/sim/types.js';

const ctx = { nowS: 60, ready: { prefill: 1, decode: 1 }, target: { prefill: 1, decode: 1 } } as PolicyContext;
const opts = { limits: { maxGpuBudget: 8, minEndpoint: 1 }, gpusPerReplica: { prefill: 1, decode: 1 }, agg: false };

function oneSentence(err: unknown): string {
  expect(err).toBeInstanceOf(InputError);
  const msg = (err as Error).message;
  expect(msg).not.toMatch(/\n/);
  expect(msg).toMatch(/^--policy exec:/);
  return msg;
}

/** Running (a killed process nobody has reaped yet shows as a zombie, state Z). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe('exec answers (property)', () => {
  it('any line parses to targets of non-negative integers or null, or is one InputError sentence', () => {
    let tried = 0;
    let clean = 0;
    const answer = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.json({ maxDepth: 3 }),
      fc.record({ prefill: fc.oneof(fc.integer(), fc.double(), fc.constant(null), fc.string(), fc.constant(1e300)), decode: fc.oneof(fc.integer({ min: 0 }), fc.constant(undefined)) }).map((o) => JSON.stringify(o)),
    );
    fc.assert(
      fc.property(answer, (line) => {
        tried++;
        let out: ReturnType<typeof parseExecAnswer>;
        try {
          out = parseExecAnswer(line, 'policy.py');
        } catch (err) {
          oneSentence(err);
          clean++;
          return;
        }
        if (out !== null) {
          for (const v of Object.values(out)) expect(Number.isInteger(v) && v! >= 0).toBe(true);
        }
        clean++;
      }),
      { numRuns: 2000, seed: 17 },
    );
    expect(clean).toBe(tried);
  });
});

describe('hostile exec commands', () => {
  it('a command that ignores stdin is ended with everything it started, after the answer timeout', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'exec-'));
    const pidFile = join(dir, 'pid');
    // The shell starts a grandchild that holds the pipes and never answers.
    const p = new ExecPolicy(`sleep 300 & echo $! > ${pidFile}; wait`, { ...opts, timeoutMs: 400 });
    const err = await p.onInterval({ num_req: 1 }, ctx).then(() => null, (e: unknown) => e);
    expect(oneSentence(err)).toMatch(/no answer within 0\.4 s/);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    await p.close();
    await new Promise((r) => setTimeout(r, 100));
    expect(alive(pid)).toBe(false);
  });

  it('a command flooding output is stopped at a bounded queue', async () => {
    const p = new ExecPolicy(`yes '{"prefill": 1}'`, { ...opts, timeoutMs: 5000 });
    await new Promise((r) => setTimeout(r, 300));
    const err = await p.onInterval({ num_req: 1 }, ctx).then(() => null, (e: unknown) => e);
    expect(oneSentence(err)).toMatch(new RegExp(`more than ${EXEC_MAX_UNASKED_LINES} lines no observation asked for`));
    await p.close();
  });

  it('a command printing one endless line is stopped at the line limit', async () => {
    const p = new ExecPolicy(`yes | tr -d '\\n'`, { ...opts, timeoutMs: 5000 });
    const err = await p.onInterval({ num_req: 1 }, ctx).then(() => null, (e: unknown) => e);
    expect(oneSentence(err)).toMatch(/a line longer than 64 KB/);
    await p.close();
  });

  it('an answer far over the budget is clamped to it', async () => {
    const warnings: string[] = [];
    const p = new ExecPolicy(`read line; echo '{"prefill": 100000000}'; read line; echo '{"decode": 3}'`, { ...opts, warn: (m) => warnings.push(m) });
    expect(await p.onInterval({ num_req: 1 }, ctx)).toEqual({ prefill: 7, decode: 1 });
    expect(await p.onInterval({ num_req: 1 }, ctx)).toEqual({ decode: 3 });
    expect(p.summaryExtras()).toEqual({ clamped_answers: 1 });
    expect(warnings).toHaveLength(1);
    await p.close();
  });

  it('a command that exits, or answers garbage, is one sentence naming the policy', async () => {
    const exits = new ExecPolicy(`exit 3`, opts);
    oneSentence(await exits.onInterval({ num_req: 1 }, ctx).then(() => null, (e: unknown) => e));
    await exits.close();
    const garbage = new ExecPolicy(`read line; echo 'scale up please'`, opts);
    expect(oneSentence(await garbage.onInterval({ num_req: 1 }, ctx).then(() => null, (e: unknown) => e))).toMatch(/not JSON/);
    await garbage.close();
  });
});
