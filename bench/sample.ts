/**
 * Sampling throughput on tfjs (wasm), batch 16:
 *   EDM Heun, 18 steps (35 network evaluations), test/fixtures/edm-tiny.unet (16x16x3, class-conditional);
 *   DDIM, 50 steps, specs/nano-mnist.unet (32x32x1).
 * The runtime's samplers (makeProcess(config.diffusion).sample), as `unetc sample` runs them;
 * one warm-up run, then the median of --runs (3) runs. Writes bench/results/sample.json.
 *
 *   npm run bench:sample [-- --runs N --batch N]
 */
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../src/runtime/engine/select.ts';
import { batchCond } from '../src/runtime/train/loop.ts';
import { makeProcess, type NetFn } from '../src/runtime/train/process.ts';
import { argValue, loadAvg, loadModel, machineInfo, median, ROOT, table, writeResult } from './common.ts';

const CASES = [
  { name: 'edm-tiny, EDM Heun 18 steps', spec: 'test/fixtures/edm-tiny.unet', sampler: 'heun', steps: 18 },
  { name: 'nano-mnist, DDIM 50 steps', spec: 'specs/nano-mnist.unet', sampler: 'ddim', steps: 50 },
];

const runs = Number(argValue('--runs') ?? 3);
const batch = Number(argValue('--batch') ?? 16);
const machine = machineInfo();
console.log(
  `machine: ${machine.cpu}, ${machine.cores} cores, node ${machine.node}, tfjs ${machine.tfjs} (wasm, 1 thread); load average ${(machine.loadavg_start as number[]).join(' ')}`,
);
await selectBackend({ name: 'wasm', log: () => {} });

const results = [];
for (const c of CASES) {
  const { mod } = await loadModel(join(ROOT, c.spec));
  const model = mod.createModel(0);
  const cfg = mod.config;
  const proc = makeProcess(cfg.diffusion);
  const labels = cfg.classes > 0 ? Int32Array.from({ length: batch }, (_, i) => i % cfg.classes) : undefined;
  let evals = 0;
  const net: NetFn = (x, noise) => {
    evals++;
    return model.forward(x, batchCond(mod, labels, noise), false);
  };
  const shape: [number, number, number, number] = [batch, cfg.imageSize, cfg.imageSize, cfg.channels];
  const once = () => {
    evals = 0;
    const t0 = performance.now();
    const imgs = tf.tidy(() => proc.sample(net, shape, { steps: c.steps, sampler: c.sampler, seed: 1 }));
    const finite = tf.tidy(() => tf.all(tf.isFinite(imgs)).dataSync()[0] === 1);
    imgs.dispose();
    return { ms: performance.now() - t0, finite, evals };
  };
  const warm = once();
  process.stderr.write(`  ${c.name}: warm-up ${warm.ms.toFixed(0)} ms (${warm.evals} network evaluations)\n`);
  const times: number[] = [];
  let finite = warm.finite;
  for (let i = 0; i < runs; i++) {
    const r = once();
    times.push(r.ms);
    finite &&= r.finite;
    process.stderr.write(`  ${c.name}: run ${i + 1}/${runs} ${r.ms.toFixed(0)} ms\n`);
  }
  const ms = median(times);
  results.push({
    name: c.name,
    spec: c.spec,
    sampler: c.sampler,
    steps: c.steps,
    network_evals: warm.evals,
    batch,
    image: `${cfg.imageSize}x${cfg.imageSize}x${cfg.channels}`,
    params: mod.paramCount,
    ms,
    runs_ms: times,
    images_per_s: (batch * 1000) / ms,
    ms_per_eval: ms / warm.evals,
    finite,
  });
  model.params.dispose();
}

console.log(`\nsampling throughput, batch ${batch} (median of ${runs} runs after a warm-up)`);
console.log(
  table(
    ['case', 'params', 'image', 'NFE', 'ms / batch', 'ms / NFE', 'images/s'],
    results.map((r) => [
      r.name,
      r.params.toLocaleString('en-US'),
      r.image,
      r.network_evals,
      r.ms.toFixed(0),
      r.ms_per_eval.toFixed(1),
      r.images_per_s.toFixed(2),
    ]),
    [false, true, true, true, true, true, true],
  ),
);
console.log(
  `\nwrote ${writeResult('sample.json', { backend: 'wasm (1 thread)', batch, runs, cases: results, machine: { ...machine, loadavg_end: loadAvg() } })}`,
);
process.exit(0);
