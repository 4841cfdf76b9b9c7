// A small parser for the Prometheus text exposition format (version 0.0.4): enough for the
// frontend's per-worker gauges. Comments and TYPE/HELP lines are skipped; timestamps are ignored.

export interface TextSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Thrown for a line that is not a valid sample; carries the 1-based line number. */
export class PromTextError extends Error {
  override readonly name = 'PromTextError';
}

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
// Sticky: matches at lastIndex without copying the rest of the line, so a line with a million
// labels costs linear time, not quadratic.
const LABEL_NAME_RE = /[a-zA-Z_:][a-zA-Z0-9_:]*/y;

function parseValue(raw: string, lineNo: number): number {
  // Case-insensitive like Prometheus's own parser (Go's ParseFloat) and Python's float():
  // prom-client, for one, writes NaN as "Nan".
  switch (raw.toLowerCase()) {
    case 'nan': return NaN;
    case '+inf': case 'inf': case '+infinity': case 'infinity': return Infinity;
    case '-inf': case '-infinity': return -Infinity;
  }
  const v = Number(raw);
  if (raw === '' || Number.isNaN(v)) throw new PromTextError(`line ${lineNo}: value '${raw}' is not a number`);
  return v;
}

function parseLabels(text: string, start: number, lineNo: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = start + 1; // after '{'
  for (;;) {
    while (text[i] === ' ' || text[i] === ',') i++;
    if (text[i] === '}') return { labels, end: i + 1 };
    LABEL_NAME_RE.lastIndex = i;
    const m = LABEL_NAME_RE.exec(text);
    if (!m) throw new PromTextError(`line ${lineNo}: bad label name at column ${i + 1}`);
    const key = m[0];
    i += key.length;
    while (text[i] === ' ') i++;
    if (text[i] !== '=' ) throw new PromTextError(`line ${lineNo}: expected '=' after label ${key}`);
    i++;
    while (text[i] === ' ') i++;
    if (text[i] !== '"') throw new PromTextError(`line ${lineNo}: expected '"' for label ${key}`);
    i++;
    let value = '';
    for (;;) {
      const c = text[i];
      if (c === undefined) throw new PromTextError(`line ${lineNo}: unterminated label value for ${key}`);
      if (c === '"') { i++; break; }
      if (c === '\\') {
        const n = text[i + 1];
        value += n === 'n' ? '\n' : n ?? '';
        i += 2;
        continue;
      }
      value += c;
      i++;
    }
    labels[key] = value;
  }
}

/** Parse a whole exposition; throws PromTextError on the first malformed sample line. */
export function parsePromText(text: string): TextSample[] {
  const out: TextSample[] = [];
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n].trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = NAME_RE.exec(line);
    if (!m) throw new PromTextError(`line ${n + 1}: expected a metric name, got '${line.slice(0, 40)}'`);
    const name = m[0];
    let i = name.length;
    let labels: Record<string, string> = {};
    if (line[i] === '{') {
      const parsed = parseLabels(line, i, n + 1);
      labels = parsed.labels;
      i = parsed.end;
    }
    const rest = line.slice(i).trim().split(/\s+/);
    if (rest.length < 1 || rest.length > 2 || rest[0] === '') {
      throw new PromTextError(`line ${n + 1}: expected '<value> [timestamp]' after ${name}`);
    }
    out.push({ name, labels, value: parseValue(rest[0], n + 1) });
  }
  return out;
}
