/**
 * Atomic writes of compiled modules and IR files leave no temp file behind when the final rename
 * fails (here: the target is an existing directory, so rename(tmp, target) fails with EISDIR).
 */
import { mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkSpec } from '../src/pipeline.ts';
import { writeCompiled } from '../src/emit/compile.ts';
import { writeIr } from '../src/ir/io.ts';
import { SPECS_DIR } from './helpers.ts';

describe('atomic writes clean up after themselves', () => {
  it('writeIr onto a directory fails and leaves only the directory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'unetc-atomic-'));
    mkdirSync(join(dir, 'ir.json'));
    const ir = checkSpec(join(SPECS_DIR, 'nano-mnist.unet')).ir!;
    expect(() => writeIr(join(dir, 'ir.json'), ir)).toThrow();
    expect(readdirSync(dir)).toEqual(['ir.json']);
  });
  it('writeCompiled onto a directory fails and leaves no .tmp file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'unetc-atomic-'));
    mkdirSync(join(dir, 'model.ts'));
    expect(() => writeCompiled({ spec: 'x.unet', dir, files: new Map([['model.ts', 'export {};\n']]) })).toThrow();
    expect(readdirSync(dir)).toEqual(['model.ts']);
  });
});
