// Where the test data lives: test/fixtures (sources and licences in test/fixtures/README.md).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
export const VECTORS = join(FIXTURES, 'vectors');
export const DECISION_VECTORS = join(VECTORS, 'decisions');
export const H100 = join(FIXTURES, 'h100');

/** A profile path as the reference vectors write it ("fixtures/h100/<model>/configmap"), inside test/fixtures. */
export function fixturePath(vectorPath: string): string {
  if (vectorPath.startsWith('fixtures/')) return join(FIXTURES, vectorPath.slice('fixtures/'.length));
  throw new Error(`fixturePath: '${vectorPath}' is not under fixtures/`);
}
