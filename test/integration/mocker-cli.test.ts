// `mocker` and `replay` as processes: bad input is exit 2 with one sentence; a port already taken
// is one sentence too.
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';

const CLI = 'dist/src/cli.js';
const PROFILE = 'test/fixtures/h100/llama-3.1-8b/npz';
const TRACE = 'test/fixtures/traces/small.jsonl';

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' }, timeout: 20_000 });
  return { code: r.status, stderr: r.stderr, stdout: r.stdout };
}

function expectOneLine(r: ReturnType<typeof cli>, pattern: RegExp): void {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

describe('mocker and replay CLI input errors', () => {
  it('mocker: missing or bad flags and profile data are one sentence, exit 2', () => {
    expectOneLine(cli(['mocker']), /--profile-dir is required/);
    expectOneLine(cli(['mocker', '--profile-dir', '/nonexistent/profile']), /\/nonexistent\/profile/);
    expectOneLine(cli(['mocker', '--profile-dir', PROFILE, '--port', '70000']), /--port must be an integer from 0 to 65535/);
    expectOneLine(cli(['mocker', '--profile-dir', PROFILE, '--mode', 'prefill']), /--mode must be disagg or agg/);
    expectOneLine(cli(['mocker', '--profile-dir', PROFILE, '--etcd-endpoints', 'not a url']), /--etcd-endpoints: 'not a url' is not an etcd client URL/);
    expectOneLine(cli(['mocker', '--profile-dir', PROFILE, '--decode', '100000']), /--decode must be an integer from 0 to 64/);
  });

  it('mocker: a port already in use is one sentence naming it', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as { port: number }).port;
    try {
      expectOneLine(cli(['mocker', '--profile-dir', PROFILE, '--port', String(port)]), new RegExp(`127\\.0\\.0\\.1:${port} is already in use`));
    } finally {
      blocker.close();
    }
  });

  it('replay: missing flags, bad URL, bad shaping and an empty window are one sentence, exit 2', () => {
    expectOneLine(cli(['replay', '--url', 'http://127.0.0.1:1']), /--trace is required/);
    expectOneLine(cli(['replay', '--trace', TRACE]), /--url is required/);
    expectOneLine(cli(['replay', '--trace', TRACE, '--url', 'ftp://x']), /must be http/);
    expectOneLine(cli(['replay', '--trace', TRACE, '--url', 'nope']), /not a URL/);
    expectOneLine(cli(['replay', '--trace', TRACE, '--url', 'http://127.0.0.1:1', '--load-scale', '0']), /--load-scale must be a number > 0/);
    expectOneLine(cli(['replay', '--trace', '/no/such/trace.jsonl', '--url', 'http://127.0.0.1:1']), /\/no\/such\/trace\.jsonl/);
    expectOneLine(cli(['replay', '--trace', TRACE, '--url', 'http://127.0.0.1:1', '--start', '1000']), /no request in the window/);
  });
});
