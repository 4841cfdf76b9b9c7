// The README's command reference, generated from each command's own --help text so the two
// cannot disagree.
//
//   node dist/src/docs/usage.js [--write README.md | --check README.md]
import { pathToFileURL } from 'node:url';
import { COMMAND_NAMES, commandSummary, loadCommand } from '../main.js';
import { sectionMain } from '../util/markdown.js';

export const USAGE_SECTION = 'usage';

export async function usageMarkdown(): Promise<string> {
  const parts = ['## Commands', ''];
  for (const name of COMMAND_NAMES) {
    const { command } = await loadCommand(name);
    parts.push(`### \`sla-planner ${name}\``, '', commandSummary(name) + '.', '', '```text', command.usage.trimEnd(), '```', '');
  }
  return parts.join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const text = await usageMarkdown();
  process.exitCode = sectionMain(process.argv.slice(2), USAGE_SECTION, () => text, 'dist/src/docs/usage.js');
}
