/** unetc draw and diff --draw: well-formed SVG naming every block of the spec, PNGs that decode. */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { checkSpec } from '../src/pipeline.ts';
import { diagramSvg } from '../src/draw/diagramSvg.ts';
import { diagramChanges, diagramModel } from '../src/draw/model.ts';
import { svgToPng } from '../src/runtime/images/svg.ts';
import { spec } from './modelHelpers.ts';
import { expectWellFormedXml } from './svgHelpers.ts';

const ROOT = join(import.meta.dirname, '..');
const TMP = join(ROOT, 'test', '.tmp', 'draw');

/** The text of the elements with data-path attributes, and those attributes. */
const dataPaths = (svg: string) => new Set([...svg.matchAll(/data-path="([^"]+)"/g)].map((m) => m[1]));

describe('unetc draw', () => {
  for (const name of ['nano-mnist-uc-lora.unet', 'edm-cifar10-with-lora.unet', 'edm-ffhq64-with-lora.unet']) {
    it(`draws ${name} with every block path, its skips and a PNG that decodes`, () => {
      const r = checkSpec(spec(name));
      expect(r.ir).toBeDefined();
      const ir = r.ir!;
      const m = diagramModel(ir);
      const svg = diagramSvg(m, { subtitle: name });
      expectWellFormedXml(svg);
      const paths = dataPaths(svg);
      for (const b of ir.blocks) {
        expect(paths.has(b.path), b.path).toBe(true);
        expect(svg).toContain(`>${b.path}</text>`);
      }
      // One skip curve per skip read: the decoder blocks that concatenate a skip.
      const skipReads = ir.blocks.filter((b) => b.skipIn !== undefined).length;
      expect([...svg.matchAll(/data-skip="/g)].length).toBe(skipReads);
      // The total in the title is the sum of every parameter's size.
      const total = ir.modules.reduce((a, mod) => a + mod.params.reduce((b, p) => b + p.shape.reduce((x, y) => x * y, 1), 0), 0);
      expect(svg).toContain(`${total.toLocaleString('en-US')} parameters`);
      const png = PNG.sync.read(svgToPng(svg));
      const [w, h] = /width="(\d+)" height="(\d+)"/.exec(svg)!.slice(1).map(Number);
      expect([png.width, png.height]).toEqual([w, h]);
    });
  }

  it('badges every conditioning with its kind, bases, rank and layers', () => {
    const m = diagramModel(checkSpec(spec('edm-cifar10-with-lora.unet')).ir!);
    // EDM CIFAR-10 with LoRA: shift on every residual block; UC-LoRA (18 bases, rank 4) on the
    // qkv and proj convs of the six attention blocks (4 at 16x16 in the encoder, 1 in the decoder, 1 in the middle).
    const uc = m.blocks.filter((b) => b.badges.some((g) => g.kind === 'uc_lora'));
    expect(uc.map((b) => b.path)).toEqual([
      'enc.16x16.block0',
      'enc.16x16.block1',
      'enc.16x16.block2',
      'enc.16x16.block3',
      'mid.block0',
      'dec.16x16.block4',
    ]);
    for (const b of uc) expect(b.badges.find((g) => g.kind === 'uc_lora')!.label).toBe('UC-LoRA 18 bases, r4 on qkv, proj');
    expect(uc.every((b) => b.attention)).toBe(true);
    const nano = diagramModel(checkSpec(spec('nano-mnist-time-lora.unet')).ir!);
    expect(nano.blocks.filter((b) => b.badges.length).map((b) => b.badges.map((g) => g.label).join(' | '))).toEqual(
      Array(7).fill('TimeLoRA 11 bases, r4 on conv0'),
    );
  });

  it('diff --draw marks the blocks whose conditioning changed', () => {
    const a = diagramModel(checkSpec(spec('nano-mnist-scale-shift.unet')).ir!);
    const b = diagramModel(checkSpec(spec('nano-mnist-uc-lora.unet')).ir!);
    const c = diagramChanges(a, b);
    // Same topology; the seven conditioned stages swap scale-and-shift for UC-LoRA.
    expect(c.added.size).toBe(0);
    expect(c.removed).toEqual([]);
    expect([...c.changed].sort()).toEqual([
      'dec.16x16.block0',
      'dec.32x32.block0',
      'dec.8x8.block0',
      'enc.16x16.block0',
      'enc.32x32.block0',
      'enc.8x8.block0',
      'mid.block0',
    ]);
    const svg = diagramSvg(b, { changes: c });
    expectWellFormedXml(svg);
    expect([...svg.matchAll(/>changed<\/text>/g)].length).toBe(7);
    expect(svg).toContain('+ UC-LoRA 11 bases, r4 on conv0');
    expect(svg).toContain('− scale-shift');
  });

  it('runs from the command line to SVG and PNG', () => {
    mkdirSync(TMP, { recursive: true });
    const run = (...args: string[]) => spawnSync(process.execPath, [join(ROOT, 'bin/unetc.mjs'), ...args], { cwd: ROOT, encoding: 'utf8' });
    const s = run('draw', 'specs/nano-mnist-uc-lora.unet', '--out', join(TMP, 'nano.svg'));
    expect(s.status, s.stderr).toBe(0);
    expectWellFormedXml(readFileSync(join(TMP, 'nano.svg'), 'utf8'));
    const d = run('diff', 'specs/edm-cifar10.unet', 'specs/edm-cifar10-with-lora.unet', '--draw', join(TMP, 'diff.png'));
    expect(d.status).toBe(1); // different models
    const png = PNG.sync.read(readFileSync(join(TMP, 'diff.png')));
    expect(png.width).toBeGreaterThan(500);
    expect(run('draw', 'specs/nano-mnist.unet', '--out', join(TMP, 'x.jpg')).status).toBe(2);
  }, 240_000);
});
