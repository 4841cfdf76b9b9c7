// Walks a JSON value and lists every object key that is not snake_case, with its path.

const SNAKE = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/;

/** Keys that are not snake_case, as `path.key`. */
export function nonSnakeKeys(value: unknown, path = '$'): string[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => nonSnakeKeys(v, `${path}[${i}]`));
  if (value === null || typeof value !== 'object') return [];
  const out: string[] = [];
  for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
    if (!SNAKE.test(key)) out.push(`${path}.${key}`);
    out.push(...nonSnakeKeys(child, `${path}.${key}`));
  }
  return out;
}

/** Every JSON document in a command's stdout: one document, or one per line. */
export function jsonDocuments(stdout: string): unknown[] {
  const text = stdout.trim();
  try {
    return [JSON.parse(text)];
  } catch {
    return text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as unknown);
  }
}
