/**
 * unetc diff and the ablation API. Expected numbers come from the paper's Table 1 (baseline vs
 * with-LoRA deltas) and Table 2 (EDM CIFAR-10 with LoRA at 9/18/36 bases and rank 2/4/8).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAxis, parseEdit } from '../src/ablate/edits.ts';
import { buildVariants, combine, grid, zip } from '../src/ablate/variants.ts';
import { diffModels } from '../src/analysis/diff.ts';
import { checkSpec } from '../src/pipeline.ts';
import { parseSpec } from '../src/syntax/parse.ts';
import { printSpec } from '../src/syntax/printer.ts';
import { SPECS_DIR } from './helpers.ts';

const ROOT = join(import.meta.dirname, '..');

const ir = (f: string) => checkSpec(join(SPECS_DIR, f)).ir!;
const unetc = (...args: string[]) => spawnSync(process.execPath, [join(ROOT, 'bin/unetc.mjs'), ...args], { cwd: ROOT, encoding: 'utf8' });

describe('unetc diff', () => {
  it('a spec diffed with itself is empty, exit 0', () => {
    const d = diffModels(ir('edm-cifar10.unet'), ir('edm-cifar10.unet'));
    expect(d.equal).toBe(true);
    expect(d.ops.every((o) => o.op === ' ')).toBe(true);
    const r = unetc('diff', 'specs/edm-cifar10.unet', 'specs/edm-cifar10.unet');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('');
  });

  it('IDDPM baseline vs with LoRA: exactly the 30 TimeLoRA layers added, delta 54,880,528 - 52,546,438 (Table 1)', () => {
    const d = diffModels(ir('iddpm-cifar10.unet'), ir('iddpm-cifar10-with-lora.unet'));
    expect(d.paramDelta).toBe(54_880_528 - 52_546_438);
    expect(d.removed).toEqual([]);
    expect(d.changed).toEqual([]);
    // qkv and proj of the 15 attention blocks.
    expect(d.added).toHaveLength(30);
    expect(d.added.every((p) => /\.attn\.(qkv|proj)\.time_lora$/.test(p))).toBe(true);
    expect(d.settingChanges).toEqual([{ key: 'diffusion.T', a: '4000', b: '4001' }]);
  });

  it('EDM baseline vs with LoRA: exactly the UC-LoRA layers and their MLPs added, delta 57,745,499 - 55,733,891 (Table 1)', () => {
    const d = diffModels(ir('edm-cifar10.unet'), ir('edm-cifar10-with-lora.unet'));
    expect(d.paramDelta).toBe(57_745_499 - 55_733_891);
    expect(d.removed).toEqual([]);
    expect(d.changed).toEqual([]);
    // 12 LoRA layers, each with 3 linears and 2 group norms in its composition MLP.
    expect(d.added).toHaveLength(12 * 6);
    expect(d.added.every((p) => /\.attn\.(qkv|proj)\.uc_lora(\.mlp\d(_norm)?)?$/.test(p))).toBe(true);
    // One distinct change (UC-LoRA on attention), listed once with the 6 attention blocks it reaches (12 layers / 2).
    expect(d.conditioningChanges).toHaveLength(1);
    const [{ a, b }] = d.conditioningChanges;
    expect(b.startsWith(`${a}; attention uc_lora(`)).toBe(true);
    expect(b).toMatch(/on: qkv proj\)$/);
    expect(d.conditioningChanges[0].blocks).toHaveLength(6);
  });

  describe('compares meaning, not spelling', () => {
    const dir = mkdtempSync(join(tmpdir(), 'unetc-diff-'));
    const base = readFileSync(join(SPECS_DIR, 'iddpm-cifar10.unet'), 'utf8');
    const write = (name: string, text: string) => {
      const p = join(dir, name);
      writeFileSync(p, text);
      return p;
    };
    const swap = (from: string, to: string) => {
      expect(base.split(from)).toHaveLength(2);
      return base.replace(from, to);
    };
    const a = write('a.unet', base);

    it('a default spelled out (scale_shift vs scale_shift(at: norm1); rescale_timesteps: true vs omitted) is no change: exit 0', () => {
      const b = write(
        'b.unet',
        swap('residual: scale_shift(at: norm1)', 'residual: scale_shift').replace(/ *rescale_timesteps: true[^\n]*\n/, ''),
      );
      expect(readFileSync(b, 'utf8')).not.toContain('rescale_timesteps');
      const r = unetc('diff', a, b);
      expect(r.stdout).toBe('');
      expect(r.status).toBe(0);
    });

    it('a conditioning change is listed once, with every block it affects', () => {
      const b = write('c.unet', swap('residual: scale_shift(at: norm1)', 'residual: shift'));
      const d = diffModels(checkSpec(a).ir!, checkSpec(b).ir!);
      expect(d.conditioningChanges.map((c) => [c.a, c.b])).toEqual([['residual scale_shift(at: norm1)', 'residual shift(at: conv0)']]);
      // Every residual block of the model: 4 levels x (3 encoder + 4 decoder) + 3 downsampling + 3 upsampling
      // (resblock_updown) + 2 middle = 36 (the blocks the IR has of kind res).
      const res = checkSpec(a).ir!.blocks.filter((bl) => bl.kind === 'res').length;
      expect(d.conditioningChanges[0].blocks).toHaveLength(res);
      const text = unetc('diff', a, b).stdout;
      expect(text.match(/scale_shift\(at: norm1\) {2}-> {2}residual shift/g)).toHaveLength(1);
    });

    it('a change of what blocks compute without new modules (dropout) is a block change, not equal', () => {
      const b = write('d.unet', swap('dropout: 0.3', 'dropout: 0.1'));
      const d = diffModels(checkSpec(a).ir!, checkSpec(b).ir!);
      expect(d.equal).toBe(false);
      expect(d.added.length + d.removed.length + d.changed.length).toBe(0);
      expect(d.blockChanges.map((c) => c.change)).toEqual(['dropout 0.3 -> 0.1']);
      expect(unetc('diff', a, b).status).toBe(1);
    });
  });

  it('CLI: exit 1 with a unified listing and a summary; --json has the integer paramDelta; exit 2 on a bad spec', () => {
    const r = unetc('diff', 'specs/edm-cifar10.unet', 'specs/edm-cifar10-with-lora.unet');
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^--- specs\/edm-cifar10\.unet/);
    expect(r.stdout).toMatch(/^\+ enc\.16x16\.block0\.attn\.qkv\.uc_lora {2}uc_lora/m);
    expect(r.stdout).toContain('(+2,011,608)');
    const j = JSON.parse(unetc('diff', '--json', 'specs/iddpm-cifar10.unet', 'specs/iddpm-cifar10-only-lora.unet').stdout);
    expect(j.paramDelta).toBe(47_591_440 - 52_546_438);
    expect(Number.isInteger(j.paramDelta)).toBe(true);
    expect(unetc('diff', 'specs/edm-cifar10.unet', 'no/such.unet').status).toBe(2);
  });

  it('--source diffs the canonical printed specs', () => {
    const r = unetc('diff', '--source', 'specs/edm-cifar10-with-lora.unet', 'specs/edm-cifar10-only-lora.unet');
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('+     residual: none');
  });
});

describe('ablation API', () => {
  it('grid sizes multiply, zips pair, names are deterministic', () => {
    const a = parseAxis('uc_lora.bases=9,18,36');
    const b = parseAxis('uc_lora.rank=2,4');
    expect(grid([a, b])).toHaveLength(6);
    expect(zip([parseAxis('uc_lora.bases=9,18'), parseAxis('uc_lora.rank=2,4')])).toHaveLength(2);
    expect(() => zip([a, b])).toThrow(/same length/);
    expect(combine([a], [parseAxis('uc_lora.bases=1,2'), parseAxis('uc_lora.rank=1,2')])).toHaveLength(6);
    // Values with commas inside calls and lists stay whole.
    expect(parseAxis('conditioning.attention=none,uc_lora(bases: 4, rank: 2),[time_lora(bases: 3, rank: 1)]')).toHaveLength(3);
    const out = mkdtempSync(join(tmpdir(), 'abl-'));
    const v1 = buildVariants(join(SPECS_DIR, 'edm-cifar10-with-lora.unet'), grid([a, b]), out).map((v) => v.name);
    const v2 = buildVariants(join(SPECS_DIR, 'edm-cifar10-with-lora.unet'), grid([a, b]), out).map((v) => v.name);
    expect(v1).toEqual(v2);
    expect(new Set(v1).size).toBe(6);
    expect(v1[0]).toBe('edm_cifar10_with_lora__uc_lora_bases_9__uc_lora_rank_2');
  });

  it('Table 2 from one sweep: bases 9/18/36 and rank 2/4/8 give the paper parameter counts', () => {
    const out = mkdtempSync(join(tmpdir(), 'abl-'));
    const base = join(SPECS_DIR, 'edm-cifar10-with-lora.unet');
    const count = (edits: string) => {
      const [v] = buildVariants(base, [parseAxis(edits).slice(0, 1)], out);
      expect(v.result.diagnostics).toEqual([]);
      return checkSpec(join(out, v.fileName), { text: v.text }).ir!.modules.reduce(
        (a, m) => a + m.params.reduce((b, p) => b + p.shape.reduce((x, y) => x * y, 1), 0),
        0,
      );
    };
    expect(count('uc_lora.bases=9')).toBe(57_185_519);
    expect(count('uc_lora.bases=36')).toBe(58_865_459);
    expect(count('uc_lora.rank=2')).toBe(57_192_539);
    expect(count('uc_lora.rank=8')).toBe(58_851_419);
  });

  it('every emitted variant re-parses to the same tree, is canonical, and checks clean', () => {
    const out = mkdtempSync(join(tmpdir(), 'abl-'));
    const vs = buildVariants(
      join(SPECS_DIR, 'nano-mnist.unet'),
      combine(
        [
          parseAxis(
            'conditioning.residual=shift(at: input, mlp: [in]),scale_shift(at: input, mlp: [in]),time_lora(bases: 11, rank: 4, targets: [conv0])',
          ),
        ],
        [],
      ),
      out,
    );
    expect(vs).toHaveLength(3);
    for (const v of vs) {
      expect(v.result.diagnostics).toEqual([]);
      const ast = parseSpec(v.text, v.fileName).ast!;
      expect(printSpec(ast)).toBe(v.text);
    }
  });

  it('an invalid combination comes back as a diagnostic, not an exception', () => {
    const out = mkdtempSync(join(tmpdir(), 'abl-'));
    const [bad] = buildVariants(join(SPECS_DIR, 'edm-cifar10-with-lora.unet'), [[parseEdit('uc_lora.rank=300')]], out);
    expect(bad.result.ok).toBe(false);
    expect(bad.result.diagnostics[0].code).toBe('E0502');
    const [missing] = buildVariants(join(SPECS_DIR, 'edm-cifar10.unet'), [[parseEdit('time_lora.bases=3')]], out);
    expect(missing.result.diagnostics[0].code).toBe('E0513');
  });

  it('unetc ablate writes the variants and summary.csv / summary.md with name and totalParams', () => {
    const out = mkdtempSync(join(tmpdir(), 'abl-'));
    const r = unetc(
      'ablate',
      'specs/edm-cifar10-with-lora.unet',
      '--grid',
      'uc_lora.bases=9,18',
      '--grid',
      'uc_lora.bias=true,false',
      '--out',
      out,
    );
    expect(r.status).toBe(0);
    const csv = readFileSync(join(out, 'summary.csv'), 'utf8').trim().split('\n');
    expect(csv[0].split(',').slice(0, 4)).toEqual(['name', 'file', 'ok', 'totalParams']);
    expect(csv).toHaveLength(5);
    expect(readdirSync(out).filter((f) => f.endsWith('.unet'))).toHaveLength(4);
    expect(readFileSync(join(out, 'summary.md'), 'utf8')).toContain('57,185,519');
  });
});

describe('unetc ablate --train', () => {
  it('trains each variant and adds its final loss and sample grid to the summary', () => {
    const out = mkdtempSync(join(tmpdir(), 'abl-train-'));
    const r = unetc(
      'ablate',
      'specs/nano-mnist.unet',
      '--grid',
      'conditioning.residual=scale_shift(at: input, mlp: [in]),time_lora(bases: 11, rank: 4, init: random, targets: [conv0])',
      '--train',
      '2',
      '--data',
      'mnist',
      '--limit',
      '8',
      '--batch',
      '4',
      '--sample-count',
      '2',
      '--sample-steps',
      '2',
      '--out',
      out,
    );
    expect(r.status).toBe(0);
    const [head, ...rows] = readFileSync(join(out, 'summary.csv'), 'utf8').trim().split('\n');
    expect(head.split(',')).toContain('finalLoss');
    expect(rows).toHaveLength(2);
    const loss = head.split(',').indexOf('finalLoss');
    const gridCol = head.split(',').indexOf('grid');
    for (const row of rows) {
      const cells = row.split(',');
      expect(Number.isFinite(Number(cells[loss]))).toBe(true);
      expect(cells[gridCol]).toMatch(/samples\.png$/);
    }
  }, 300_000);
});
