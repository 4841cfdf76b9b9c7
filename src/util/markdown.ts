// Generated sections of README.md sit between `<!-- NAME:start -->` and `<!-- NAME:end -->`, so
// tests can check that the text generated from the code (config schema, command usage) is current.
import { readFileSync, writeFileSync } from 'node:fs';

export function sectionMarkers(name: string): { start: string; end: string } {
  return { start: `<!-- ${name}:start -->`, end: `<!-- ${name}:end -->` };
}

/** `text` with the named section replaced by `body`; throws when the markers are missing. */
export function replaceMarkedSection(text: string, name: string, body: string, file = 'README.md'): string {
  const { start: startMarker, end: endMarker } = sectionMarkers(name);
  const start = text.indexOf(startMarker);
  const end = text.indexOf(endMarker);
  if (start < 0 || end < start) {
    throw new Error(`${file} has no '${startMarker}' ... '${endMarker}' section; add both markers where it belongs.`);
  }
  return `${text.slice(0, start)}${startMarker}\n${body}${text.slice(end)}`;
}

/** The named section's current body, or undefined when the markers are missing. */
export function readMarkedSection(text: string, name: string): string | undefined {
  const { start: startMarker, end: endMarker } = sectionMarkers(name);
  const start = text.indexOf(startMarker);
  const end = text.indexOf(endMarker);
  if (start < 0 || end < start) return undefined;
  return text.slice(start + startMarker.length + 1, end);
}

/**
 * The small CLI behind `node dist/src/.../X.js [--write FILE | --check FILE]`: print the section,
 * rewrite it in place, or exit 1 when it is stale.
 */
export function sectionMain(argv: string[], name: string, generate: () => string, script: string): number {
  const [flag, file] = argv;
  if (flag === undefined) {
    process.stdout.write(generate());
    return 0;
  }
  if ((flag !== '--write' && flag !== '--check') || !file) {
    process.stderr.write(`usage: ${script} [--write FILE | --check FILE]\n`);
    return 2;
  }
  try {
    const text = readFileSync(file, 'utf8');
    const updated = replaceMarkedSection(text, name, generate(), file);
    if (flag === '--check') {
      if (updated === text) return 0;
      process.stderr.write(`${file}: the '${name}' section is stale; run 'node ${script} --write ${file}'.\n`);
      return 1;
    }
    if (updated !== text) writeFileSync(file, updated);
    return 0;
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
}
