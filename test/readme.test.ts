import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { usageMarkdown, USAGE_SECTION } from '../src/docs/usage.js';
import { readMarkedSection } from '../src/util/markdown.js';
import { COMMAND_NAMES } from '../src/main.js';

describe('README', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

  it("the commands section is each command's current --help text", async () => {
    const generated = await usageMarkdown();
    for (const name of COMMAND_NAMES) expect(generated).toContain(`### \`sla-planner ${name}\``);
    expect(readMarkedSection(readme, USAGE_SECTION), "stale: run 'node dist/src/docs/usage.js --write README.md'").toBe(generated);
  });

  it('names the two set-up commands and CI runs the test one', () => {
    expect(readme).toContain('npm ci && npm start');
    expect(readme).toContain('npm ci && npm test');
    expect(readFileSync(new URL('../.ci/run', import.meta.url), 'utf8')).toMatch(/^npm test( |$)/m);
  });
});
