// The README's config reference, generated from the schema so it cannot drift from it.
//
//   node dist/src/config/reference.js                  print the Markdown
//   node dist/src/config/reference.js --write README.md  replace the marked section in place
//   node dist/src/config/reference.js --check README.md  exit 1 when the section is stale
import { readMarkedSection, replaceMarkedSection, sectionMain, sectionMarkers } from '../util/markdown.js';
import { pathToFileURL } from 'node:url';
import { FIELD_SPECS, type FieldSpec } from './fields.js';
import { CONFIG_KEYS, DEFAULT_PROMETHEUS_ENDPOINT, KEY_ALIASES } from './schema.js';

const REFERENCE_SECTION = 'config-reference';
export const { start: REFERENCE_START, end: REFERENCE_END } = sectionMarkers(REFERENCE_SECTION);

const ENV_DEFAULT_TEXT: Record<string, string> = {
  namespace: 'env `DYN_NAMESPACE`, else `"dynamo"`',
  metric_pulling_prometheus_endpoint: `env \`PROMETHEUS_ENDPOINT\`, else \`${DEFAULT_PROMETHEUS_ENDPOINT}\``,
  metric_reporting_prometheus_port: 'env `PLANNER_PROMETHEUS_PORT`, else `0`',
};

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function typeText(spec: FieldSpec): string {
  let text: string;
  if (spec.kind === 'enum') text = spec.enumValues!.map((v) => `\`${v}\``).join(', ');
  else if (spec.kind === 'integer' || spec.kind === 'number') {
    text = spec.kind === 'integer' ? 'integer' : 'number';
    if (spec.min !== undefined && spec.max !== undefined && !spec.minExclusive && !spec.maxExclusive) text += ` ${spec.min}–${spec.max}`;
    else {
      if (spec.min !== undefined) text += ` ${spec.minExclusive ? '>' : '≥'} ${spec.min}`;
      if (spec.max !== undefined) text += ` ${spec.maxExclusive ? '<' : '≤'} ${spec.max}`;
    }
  } else if (spec.kind === 'url') text = 'URL';
  else text = spec.nonEmpty ? 'non-empty string' : spec.kind;
  return spec.nullable ? `${text} or null` : text;
}

function defaultText(spec: FieldSpec): string {
  if (!spec.hasDefault) return ENV_DEFAULT_TEXT[spec.key] ?? '(required)';
  return `\`${JSON.stringify(spec.default)}\``;
}

/** The Markdown placed between the README markers (without the markers). */
export function configReferenceMarkdown(): string {
  const lines = [
    '| Field | Type | Default | Description |',
    '|---|---|---|---|',
    ...CONFIG_KEYS.map((key) => {
      const spec = FIELD_SPECS[key];
      return `| \`${key}\` | ${cell(typeText(spec))} | ${cell(defaultText(spec))} | ${cell(spec.description)} |`;
    }),
    '',
    'Other upstream generations\' names are read as these fields, with a warning:',
    '',
    '| Key | Read as |',
    '|---|---|',
    ...Object.entries(KEY_ALIASES).map(([alias, { canonical, from }]) => `| \`${alias}\` | \`${canonical}\` (${from}) |`),
    '',
  ];
  return lines.join('\n');
}

/** `text` with the config-reference section replaced by `body`; throws when the markers are missing. */
export function replaceReferenceSection(text: string, body: string, file = 'README.md'): string {
  return replaceMarkedSection(text, REFERENCE_SECTION, body, file);
}

/** The config-reference section currently in `text`, or undefined when there are no markers. */
export function readReferenceSection(text: string): string | undefined {
  return readMarkedSection(text, REFERENCE_SECTION);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = sectionMain(process.argv.slice(2), REFERENCE_SECTION, configReferenceMarkdown, 'dist/src/config/reference.js');
}
