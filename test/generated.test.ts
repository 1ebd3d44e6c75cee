/**
 * generated/ is what `unetc compile` produces from specs/ today, and every generated module
 * type-checks under the project's strict compiler options (TypeScript compiler API).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { compileSpec } from '../src/emit/compile.ts';
import { SPECS_DIR, specFiles } from './helpers.ts';

const ROOT = join(import.meta.dirname, '..');

describe('generated/', () => {
  it('has one folder per spec and nothing else', () => {
    const dirs = readdirSync(join(ROOT, 'generated')).sort();
    expect(dirs).toEqual(specFiles().map((f) => f.replace(/\.unet$/, '')).sort());
  });

  it('is up to date with specs/ (run `unetc compile specs/*.unet` when this fails)', async () => {
    const stale: string[] = [];
    for (const f of specFiles()) {
      const { compiled } = await compileSpec(join('specs', f), 'generated', { root: ROOT });
      expect(compiled).toBeDefined();
      for (const [file, text] of compiled!.files) {
        if (readFileSync(join(ROOT, compiled!.dir, file), 'utf8') !== text) stale.push(join(compiled!.dir, file));
      }
    }
    expect(stale).toEqual([]);
  }, 120_000);

  it('every generated module type-checks under strict, and under the stricter flags of a stock `tsc --init`', () => {
    const configPath = join(ROOT, 'tsconfig.json');
    const parsed = ts.parseJsonConfigFileContent(ts.readConfigFile(configPath, ts.sys.readFile).config, ts.sys, ROOT);
    expect(parsed.options.strict).toBe(true);
    const files = specFiles().map((f) => join(ROOT, 'generated', f.replace(/\.unet$/, ''), 'index.ts'));
    // A consumer's `tsc --init` (TypeScript 5.9) also turns these on; the runtime reaches such a
    // consumer as .d.ts files (skipLibCheck), so only the generated files are held to them here.
    const consumerFlags = { exactOptionalPropertyTypes: true, noUncheckedIndexedAccess: true, verbatimModuleSyntax: true, isolatedModules: true };
    const program = ts.createProgram(files, { ...parsed.options, ...consumerFlags, noEmit: true });
    const diags = ts
      .getPreEmitDiagnostics(program)
      .filter((d) => !d.file || d.file.fileName.includes('/generated/'))
      .map((d) => `${d.file?.fileName}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
    expect(diags).toEqual([]);
    const plain = ts.createProgram(files, { ...parsed.options, noEmit: true });
    expect(ts.getPreEmitDiagnostics(plain).map((d) => `${d.file?.fileName}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`)).toEqual([]);
    // The generated sources really are in the program (not silently skipped).
    expect(program.getSourceFiles().filter((s) => s.fileName.includes('/generated/')).length).toBe(4 * files.length); // model, params, train, index
  }, 300_000);

  it('modules name the spec line of each block', () => {
    const text = readFileSync(join(ROOT, 'generated', 'edm-cifar10', 'model.ts'), 'utf8');
    // One line per block: the block, the op it applies, its shapes and its spec line.
    expect(text).toMatch(/^ {2}h = keep\(resBlock\(p, 'enc\.16x16\.block0', h, v, res256Attn, ctx\)\); \/\/ 256@16 -> 256@16, specs\/edm-cifar10\.unet:\d+$/m);
    expect(text).toContain("from 'unetc/runtime'");
    // Each distinct op is declared once: the 4 + 1 attention blocks at 16x16 in the encoder and the bottleneck share one.
    expect(text.match(/^const res256Attn: ResBlockOp = /gm)?.length).toBe(1);
    expect(text.match(/, res256Attn, ctx\)/g)?.length).toBe(5);
  });
  void SPECS_DIR;
});
