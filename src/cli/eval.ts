/**
 * `unetc eval RUN_DIR|CKPT [--n 10000] [--steps K] [--sampler ddim|ancestral|heun] [--batch B] [--seed S]
 *   [--raw] [--classifier WEIGHTS] [--backend NAME] [--threads N] [--json]`
 *
 * MNIST sample quality: generates n samples from a run's checkpoint (EMA weights when present),
 * and reports the Frechet distance between the features of a small MNIST classifier
 * (assets/classifier/) on them and on the MNIST test set, with the predicted-class histogram.
 * Frechet distances are biased upwards at small n: compare runs at the same n.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { backendOption, intOption, threadsOption, UsageError } from './io.ts';
import { defineCommand, type OptionDef, type Values } from './command.ts';
import { computeStats } from '../analysis/stats.ts';
import { maxSampleBatch, memoryBudget } from './memory.ts';
import { importModel, loadRuntime, readRunIr, resolveRunTarget, checkSampler } from './runtimeLoader.ts';

type EvalModule = typeof import('../eval/index.ts');
type ModelModule = import('../runtime/index.ts').ModelModule;

/** The sampler and step count that makeProcess will use (src/runtime/train/process.ts), for the report. */
function effectiveSampling(
  d: Record<string, unknown>,
  sampler: string | undefined,
  steps: number | undefined,
): { sampler: string; steps: number } {
  const num = (k: string, dflt: number) => (typeof d[k] === 'number' ? (d[k] as number) : dflt);
  if (d.process === 'edm') return { sampler: 'heun', steps: steps ?? num('steps', 18) };
  if (sampler === 'ancestral') return { sampler, steps: Math.min(steps ?? Infinity, num('T', 1000)) };
  return { sampler: 'ddim', steps: steps ?? 50 };
}

const options = {
  n: { arg: 'n', help: 'samples', default: '10000' },
  steps: { arg: 'k', help: 'sampler steps', defaultText: "the spec's (50 for DDIM, 18 for Heun)" },
  sampler: { arg: 'name', help: 'ddim or ancestral (DDPM models), heun (EDM models)', defaultText: "the spec's" },
  batch: { arg: 'b', help: 'images sampled at once', defaultText: '250, or what fits in memory' },
  seed: { arg: 's', help: 'seed of the noise', default: '1' },
  raw: { help: 'use the raw weights, not the EMA' },
  classifier: {
    arg: 'weights',
    help: 'the classifier whose features are compared',
    defaultText: 'assets/classifier/mnist-lenet.safetensors',
  },
  backend: { arg: 'name', help: 'tfjs backend', choices: ['tensorflow', 'wasm', 'cpu'], defaultText: 'the best one installed' },
  threads: { arg: 'n', help: 'kernel threads, 1 to 8 (see unetc --help)' },
  json: { help: 'print the distance, its terms and the histograms as JSON' },
} as const satisfies Record<string, OptionDef>;

export const evalCmd = defineCommand({
  name: 'eval',
  args: '<run>',
  summary: "MNIST Frechet distance and class histogram of a run's samples",
  details: 'Frechet distances are biased upwards at small n: compare runs at the same n.',
  options,
  examples: ['unetc eval runs/nano-mnist --n 2000', 'unetc eval runs/nano-mnist --n 10000 --json'],
  run: ([target], values) => evalRun(target!, values),
});

async function evalRun(target: string, values: Values<typeof options>): Promise<number> {
  const backend = backendOption(values.backend);
  const threads = threadsOption(values.threads);
  const n = intOption(values.n, 'n', 2) ?? 10000;
  const steps = intOption(values.steps, 'steps', 1);
  const batch = intOption(values.batch, 'batch', 1);
  const seed = intOption(values.seed, 'seed', 0);
  const weightsFile = values.classifier ? resolve(values.classifier) : undefined;
  if (weightsFile && !existsSync(weightsFile)) throw new UsageError(`no such classifier weights file: ${values.classifier}`);

  const { runDir, checkpoint, modelDir } = resolveRunTarget(target);
  const ir = readRunIr(runDir);
  checkSampler(ir, values.sampler);

  const rt = await loadRuntime();
  const selected = await rt.selectBackend({ name: backend, threads });
  // Batches that fit: the default 250 shrinks to what the memory holds; a larger --batch is refused.
  const fits = maxSampleBatch(computeStats(ir), memoryBudget(selected.name));
  if (batch !== undefined && batch > fits) {
    process.stderr.write(`unetc eval: --batch ${batch} does not fit in memory for ${ir.name}; the largest batch that fits is ${fits}\n`);
    return 1;
  }
  const sampleBatch = Math.max(1, Math.min(batch ?? 250, fits));
  const ev: EvalModule = await import('../eval/index.ts');
  const mod = await importModel<ModelModule>(join(modelDir, 'model.ts'));
  const cfg = mod.config;
  if (cfg.channels !== 1 || (cfg.imageSize !== 32 && cfg.imageSize !== 28)) {
    process.stderr.write(
      `unetc eval: ${cfg.name} makes ${cfg.imageSize}x${cfg.imageSize}x${cfg.channels} images; the MNIST classifier takes 32x32 or 28x28 single-channel images\n`,
    );
    return 1;
  }
  const weights = weightsFile ?? ev.defaultClassifierPath();
  const started = Date.now();
  const tty = process.stderr.isTTY === true;
  let lastShown = 0;
  const onBatch = (done: number, total: number) => {
    const secs = (Date.now() - started) / 1000;
    if (!tty && done < total && secs - lastShown < 10) return;
    lastShown = secs;
    const eta = Math.round((secs / done) * (total - done));
    const line = `eval: sampled ${done}/${total}  ${secs.toFixed(0)} s  ETA ${Math.floor(eta / 60)}m${String(eta % 60).padStart(2, '0')}s`;
    process.stderr.write(tty ? `\r${line}${done === total ? '\n' : ''}` : `${line}\n`);
  };
  try {
    const clf = ev.Classifier.load(weights);
    try {
      const gen = ev.generateSamples(mod, {
        checkpoint,
        n,
        batch: sampleBatch,
        steps,
        sampler: values.sampler as 'ddim' | 'ancestral' | 'heun' | undefined,
        seed,
        raw: values.raw === true,
        onBatch,
      });
      if (gen.nonFinite > 0) {
        process.stderr.write(`unetc eval: ${checkpoint} produced ${gen.nonFinite} non-finite pixel values; no distance to report\n`);
        return 1;
      }
      const q = ev.sampleQuality(gen, { weights, classifier: clf });
      const seconds = (Date.now() - started) / 1000;
      const { sampler: usedSampler, steps: procSteps } = effectiveSampling(cfg.diffusion, values.sampler, steps);
      if (values.json) {
        process.stdout.write(
          JSON.stringify({
            fd: q.distance,
            meanTerm: q.meanTerm,
            covTerm: q.covTerm,
            n,
            steps: procSteps,
            sampler: usedSampler,
            seed: seed ?? 1,
            checkpoint,
            weights: gen.weights,
            histogram: q.histogram,
            referenceHistogram: q.referenceHistogram,
            classImbalance: Number.isFinite(q.classImbalance) ? q.classImbalance : null,
            classAgreement: q.classAgreement ?? null,
            reference: { n: q.reference.stats.n, cache: q.reference.cachePath, source: q.reference.source },
            classifier: weights,
            seconds,
          }) + '\n',
        );
      } else {
        const pct = (c: number) => `${((100 * c) / n).toFixed(1)}%`;
        process.stdout.write(
          `MNIST Frechet distance ${q.distance.toFixed(3)}  (${n} samples of ${cfg.name}, ${usedSampler} ${procSteps} steps, ${gen.weights === 'ema' ? 'EMA' : 'raw'} weights, vs the ${q.reference.stats.n} MNIST test images)\n` +
            `  mean term ${q.meanTerm.toFixed(3)}, covariance term ${q.covTerm.toFixed(3)}\n` +
            `  predicted classes  ${q.histogram.map((c, k) => `${k}: ${pct(c)}`).join('  ')}\n` +
            (q.classAgreement !== undefined
              ? `  class agreement    ${(100 * q.classAgreement).toFixed(1)}% of samples classified as the class they were generated for\n`
              : '') +
            `  checkpoint         ${checkpoint}\n` +
            `  reference stats    ${q.reference.cachePath} (${q.reference.source === 'cache' ? 'cached' : `computed: ${q.reference.note ?? ''}`})\n` +
            `  took ${seconds.toFixed(0)} s\n`,
        );
      }
      return 0;
    } finally {
      clf.dispose();
    }
  } catch (e) {
    const name = (e as Error).name;
    if (e instanceof ev.GenerateError || e instanceof ev.EvalInputError || e instanceof rt.DataError || name === 'SafetensorsError') {
      process.stderr.write(`unetc eval: ${(e as Error).message}\n`);
      return 1;
    }
    throw e;
  }
}
