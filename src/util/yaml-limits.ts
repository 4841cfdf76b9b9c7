// A guard run before any YAML parse of user input: the yaml package recurses once per nesting
// level, so a few thousand levels exhaust the stack, and around ten thousand crash the process
// outright. Nothing this project reads is nested more than a handful of levels.
import { createRequire } from 'node:module';

const requireHere = createRequire(import.meta.url);
let yamlLoaded: typeof import('yaml') | undefined;

/**
 * The yaml package, loaded on the first YAML text rather than at start-up: a daemon whose config
 * and profile data are JSON never holds its ~70 modules (a few MB resident).
 */
export function yamlPackage(): typeof import('yaml') {
  return (yamlLoaded ??= requireHere('yaml') as typeof import('yaml'));
}

/** Deepest flow nesting ([ and {) accepted. */
export const YAML_MAX_FLOW_DEPTH = 64;
/** Widest indentation accepted, in columns (block nesting needs at least one column a level). */
export const YAML_MAX_INDENT = 256;

/** Why a YAML text is nested too deeply to parse safely, or null when it is fine. */
export function yamlNestingProblem(text: string): string | null {
  let depth = 0;
  let line = 1;
  let column = 0;
  let indent = 0;
  let atLineStart = true;
  let quote: '"' | "'" | null = null;
  let comment = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\n') {
      line++;
      column = 0;
      indent = 0;
      atLineStart = true;
      comment = false;
      continue;
    }
    column++;
    if (atLineStart) {
      if (c === ' ') {
        if (++indent > YAML_MAX_INDENT) return `line ${line} is indented more than ${YAML_MAX_INDENT} columns`;
        continue;
      }
      atLineStart = false;
    }
    if (comment) continue;
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = null;
      continue;
    }
    if (c === '"' || c === "'") quote = c;
    else if (c === '#' && (i === 0 || /\s/.test(text[i - 1]))) comment = true;
    else if (c === '[' || c === '{') {
      if (++depth > YAML_MAX_FLOW_DEPTH) return `brackets nest more than ${YAML_MAX_FLOW_DEPTH} levels deep at line ${line}, column ${column}`;
    } else if ((c === ']' || c === '}') && depth > 0) depth--;
  }
  return null;
}
