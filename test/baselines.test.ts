/**
 * Formatted-output baselines, as the TypeScript compiler keeps `*.errors.txt`: each bad spec in
 * test/baselines/ is checked and its diagnostics printed exactly as `unetc check` prints them
 * (source line, caret, related notes, help), compared with the `.errors.txt` beside it. They pin
 * the wording, order and layout of whole reports; exact positions are pinned independently by the
 * marker-counted tests in test/diagnostics/. A change shows as a diff of the .errors.txt file:
 * review it, then accept it with `UNETC_ACCEPT_BASELINES=1 npx vitest run test/baselines.test.ts`.
 */
import { readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatDiagnostics } from '../src/diagnostics/format.ts';
import { checkSpec } from '../src/pipeline.ts';

const ROOT = join(import.meta.dirname, '..');
const DIR = join(import.meta.dirname, 'baselines');
const accept = process.env.UNETC_ACCEPT_BASELINES === '1';

describe('diagnostic baselines', () => {
  for (const f of readdirSync(DIR)
    .filter((x) => x.endsWith('.unet'))
    .sort()) {
    it(f, () => {
      // File names as a user in the repository root would type them.
      const file = relative(ROOT, join(DIR, f));
      const r = checkSpec(file, { text: readFileSync(join(DIR, f), 'utf8') });
      const errors = r.diagnostics.filter((d) => d.severity === 'error').length;
      const out = `${formatDiagnostics(r.diagnostics, r.sources)}\n${errors} error${errors === 1 ? '' : 's'}\n`;
      const golden = join(DIR, f.replace(/\.unet$/, '.errors.txt'));
      if (accept || !existsSync(golden)) {
        if (!accept)
          throw new Error(`no baseline ${relative(ROOT, golden)}: review the output and accept it with UNETC_ACCEPT_BASELINES=1`);
        writeFileSync(golden, out);
      }
      expect(out).toBe(readFileSync(golden, 'utf8'));
    });
  }
});
