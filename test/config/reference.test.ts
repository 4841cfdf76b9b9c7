import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_KEYS, KEY_ALIASES } from '../../src/config/index.js';
import {
  REFERENCE_END,
  REFERENCE_START,
  configReferenceMarkdown,
  readReferenceSection,
  replaceReferenceSection,
} from '../../src/config/reference.js';

function row(markdown: string, key: string): string[] {
  const line = markdown.split('\n').find((l) => l.startsWith(`| \`${key}\` |`));
  if (!line) throw new Error(`no row for ${key}`);
  return line.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim());
}

describe('config reference', () => {
  const markdown = configReferenceMarkdown();

  it('has one row per field with its type, default and description', () => {
    for (const key of CONFIG_KEYS) expect(row(markdown, key)[3].length, key).toBeGreaterThan(10);
    expect(row(markdown, 'ttft')).toEqual(['`ttft`', 'number > 0', '`500`', 'Time-to-first-token target, ms.']);
    expect(row(markdown, 'load_scaling_down_sensitivity').slice(1, 3)).toEqual(['integer 0–100', '`80`']);
    expect(row(markdown, 'mode')[1]).toBe('`disagg`, `prefill`, `decode`, `agg`');
    expect(row(markdown, 'pre_deployment_sweeping_mode').slice(1, 3)).toEqual(['`none`, `rapid`, `thorough` or null', '`"rapid"`']);
    expect(row(markdown, 'namespace')[2]).toBe('env `DYN_NAMESPACE`, else `"dynamo"`');
    expect(row(markdown, 'model_name')[2]).toBe('`null`');
  });

  it('lists every accepted alias', () => {
    for (const [alias, { canonical }] of Object.entries(KEY_ALIASES)) expect(markdown).toContain(`| \`${alias}\` | \`${canonical}\``);
  });

  it('rewrites only the marked section, idempotently', () => {
    const readme = `# x\n\nintro\n\n${REFERENCE_START}\nold text\n${REFERENCE_END}\n\n## after\n`;
    const once = replaceReferenceSection(readme, markdown);
    expect(once.startsWith('# x\n\nintro\n\n')).toBe(true);
    expect(once.endsWith(`${REFERENCE_END}\n\n## after\n`)).toBe(true);
    expect(readReferenceSection(once)).toBe(markdown);
    expect(replaceReferenceSection(once, markdown)).toBe(once);
    expect(() => replaceReferenceSection('# no markers\n', markdown)).toThrow(/has no '<!-- config-reference:start -->'/);
  });

  it.skipIf(!existsSync('README.md'))('README.md carries the generated reference (node dist/src/config/reference.js --write README.md)', () => {
    const section = readReferenceSection(readFileSync('README.md', 'utf8'));
    expect(section, 'README.md needs the config-reference markers').toBeDefined();
    expect(section).toBe(markdown);
  });
});
