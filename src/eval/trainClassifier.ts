/**
 * Trains the MNIST classifier of the Frechet distance (src/eval/classifier.ts) and writes its
 * weights, with its test accuracy, to assets/classifier/ (`npm run train:classifier`).
 *
 *   node bin/run-ts.mjs src/eval/trainClassifier.ts [--seed 0] [--epochs N] [--batch 128] [--lr 0.001]
 *     [--augment 2] [--limit N] [--out PATH] [--no-readme] [--backend wasm|cpu|tensorflow]
 *
 * Deterministic under the seed: weights are initialised on the host from the seed, the data order
 * of epoch e is epochPermutation(n, seed, e) and the augmentation shifts of step s come from
 * stepSeed(seed, s, Stream.augment); the same backend gives the same bytes.
 */
import * as tf from '@tensorflow/tfjs-core';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { selectBackend, type BackendName } from '../runtime/engine/select.ts';
import { loadMnist } from '../runtime/data/mnist.ts';
import { Adam } from '../runtime/train/optimizer.ts';
import { epochPermutation, mulberry32, normals, Stream, stepSeed } from '../runtime/train/rng.ts';
import { Classifier, defaultClassifierPath, IMAGE_SIZE, NUM_CLASSES } from './classifier.ts';
import { extractFeatures, toClassifierInput } from './features.ts';
import { frechetDistance, gaussianStats } from './frechet.ts';
import { referenceStats } from './referenceStats.ts';

export interface TrainClassifierOptions {
  seed?: number;
  epochs?: number;
  batch?: number;
  /** Peak learning rate; cosine-decayed to 1% of it over the run. */
  lr?: number;
  /** Random translation of each training image by up to this many pixels in x and y (0: none). */
  augment?: number;
  /** Train on the first `limit` training images only (for quick checks). */
  limit?: number;
  log?: (line: string) => void;
}

export interface TrainClassifierResult {
  classifier: Classifier;
  testAccuracy: number;
  /** Test accuracy after each epoch. */
  epochAccuracy: number[];
  steps: number;
  seconds: number;
  options: Required<Omit<TrainClassifierOptions, 'log' | 'limit'>> & { limit?: number };
}

/** Shifts each 32x32 image of a batch by (dx, dy) in [-r, r], filling with the background -1. */
function shiftBatch(x: Float32Array, b: number, r: number, rand: () => number): Float32Array {
  const S = IMAGE_SIZE;
  const out = new Float32Array(x.length).fill(-1);
  for (let i = 0; i < b; i++) {
    const dx = Math.floor(rand() * (2 * r + 1)) - r;
    const dy = Math.floor(rand() * (2 * r + 1)) - r;
    const base = i * S * S;
    for (let y = Math.max(0, dy); y < Math.min(S, S + dy); y++) {
      const src = base + (y - dy) * S;
      const dst = base + y * S;
      for (let xx = Math.max(0, dx); xx < Math.min(S, S + dx); xx++) out[dst + xx] = x[src + xx - dx]!;
    }
  }
  return out;
}

export function testAccuracy(clf: Classifier, images: Float32Array, labels: Int32Array, n: number): number {
  const { predictions } = extractFeatures(clf, images, n);
  let right = 0;
  for (let i = 0; i < n; i++) if (predictions[i] === labels[i]) right++;
  return right / n;
}

export function trainClassifier(o: TrainClassifierOptions = {}): TrainClassifierResult {
  const log = o.log ?? ((s: string) => process.stderr.write(s + '\n'));
  const opts = {
    seed: o.seed ?? 0,
    epochs: o.epochs ?? 6,
    batch: o.batch ?? 128,
    lr: o.lr ?? 1e-3,
    augment: o.augment ?? 2,
    limit: o.limit,
  };
  const train = loadMnist({ split: 'train', limit: o.limit });
  const test = loadMnist({ split: 'test' });
  if (train.height !== IMAGE_SIZE || test.height !== IMAGE_SIZE) throw new Error(`expected ${IMAGE_SIZE}x${IMAGE_SIZE} MNIST`);
  const px = IMAGE_SIZE * IMAGE_SIZE;
  const clf = Classifier.init(opts.seed);
  log(
    `classifier: ${clf.paramCount()} parameters; ${train.n} training images, ${opts.epochs} epochs at batch ${opts.batch}, lr ${opts.lr} (cosine), shifts up to ${opts.augment} px, seed ${opts.seed}`,
  );
  const adam = new Adam({ lr: opts.lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, warmup: 0 }, clf.vars);
  const varList = [...clf.vars.values()];
  const nameOf = new Map([...clf.vars].map(([k, v]) => [v.name, k]));
  const stepsPerEpoch = Math.ceil(train.n / opts.batch);
  const total = stepsPerEpoch * opts.epochs;
  const started = Date.now();
  const epochAccuracy: number[] = [];
  let step = 0;
  for (let epoch = 0; epoch < opts.epochs; epoch++) {
    const perm = epochPermutation(train.n, opts.seed, epoch);
    let lossSum = 0;
    for (let k = 0; k < stepsPerEpoch; k++) {
      const idx = perm.subarray(k * opts.batch, Math.min(train.n, (k + 1) * opts.batch));
      const b = idx.length;
      let x: Float32Array = new Float32Array(b * px);
      const labels = new Int32Array(b);
      idx.forEach((j, i) => {
        x.set(train.images.subarray(j * px, (j + 1) * px), i * px);
        labels[i] = train.labels[j]!;
      });
      if (opts.augment > 0) x = shiftBatch(x, b, opts.augment, mulberry32(stepSeed(opts.seed, step, Stream.augment)));
      adam.o.lr = opts.lr * (0.01 + 0.99 * 0.5 * (1 + Math.cos((Math.PI * step) / total)));
      const { value, grads } = tf.variableGrads(() => {
        const xt = tf.tensor4d(x, [b, IMAGE_SIZE, IMAGE_SIZE, 1]);
        const { logits, features } = clf.forward(xt);
        features.dispose();
        const onehot = tf.oneHot(tf.tensor1d(labels, 'int32'), NUM_CLASSES);
        return tf.neg(tf.mean(tf.sum(tf.mul(onehot, tf.logSoftmax(logits)), 1))) as tf.Scalar;
      }, varList);
      lossSum += value.dataSync()[0]!;
      adam.apply(clf.vars, new Map(Object.entries(grads).map(([k2, g]) => [nameOf.get(k2)!, g])));
      tf.dispose([value, ...Object.values(grads)]);
      step++;
    }
    const acc = testAccuracy(clf, test.images, test.labels, test.n);
    epochAccuracy.push(acc);
    log(
      `epoch ${epoch + 1}/${opts.epochs}: mean loss ${(lossSum / stepsPerEpoch).toFixed(4)}, test accuracy ${(100 * acc).toFixed(2)}%, ${((Date.now() - started) / 1000).toFixed(0)} s`,
    );
  }
  adam.dispose();
  return {
    classifier: clf,
    testAccuracy: epochAccuracy.at(-1)!,
    epochAccuracy,
    steps: step,
    seconds: (Date.now() - started) / 1000,
    options: opts,
  };
}

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      seed: { type: 'string' },
      epochs: { type: 'string' },
      batch: { type: 'string' },
      lr: { type: 'string' },
      augment: { type: 'string' },
      limit: { type: 'string' },
      out: { type: 'string' },
      'no-readme': { type: 'boolean' },
      backend: { type: 'string' },
    },
  });
  const int = (v: string | undefined, name: string, min: number) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < min) throw new Error(`--${name} takes a whole number >= ${min}, got '${v}'`);
    return n;
  };
  const backend = (values.backend ?? 'wasm') as BackendName;
  await selectBackend({ name: backend });
  const out = resolve(values.out ?? defaultClassifierPath());
  const r = trainClassifier({
    seed: int(values.seed, 'seed', 0),
    epochs: int(values.epochs, 'epochs', 1),
    batch: int(values.batch, 'batch', 1),
    lr: values.lr === undefined ? undefined : Number(values.lr),
    augment: int(values.augment, 'augment', 0),
    limit: int(values.limit, 'limit', 1),
  });
  const o = r.options;
  r.classifier.save(out, {
    seed: String(o.seed),
    epochs: String(o.epochs),
    batch: String(o.batch),
    lr: String(o.lr),
    augment: String(o.augment),
    trainImages: String(o.limit ?? 60000),
    backend,
    testAccuracy: r.testAccuracy.toFixed(4),
  });
  const digest = sha256(out);
  const pct = (100 * r.testAccuracy).toFixed(2);
  process.stdout.write(`wrote ${out}: test accuracy ${pct}% after ${r.steps} steps in ${r.seconds.toFixed(0)} s; sha256 ${digest}\n`);
  // The test-set statistics (cached beside the weights) and two reference points of the distance.
  const ref = referenceStats({ weights: out, classifier: r.classifier });
  const fdOf = (images: Float32Array, n: number) => {
    const f = extractFeatures(r.classifier, images, n);
    return frechetDistance(gaussianStats(f.features, f.n, f.dim), ref.stats).distance;
  };
  const N = 10000;
  const trainFd = fdOf(loadMnist({ split: 'train', limit: N }).images, N);
  const noiseFd = fdOf(toClassifierInput(Float32Array.from(normals(N * IMAGE_SIZE * IMAGE_SIZE, 11)), N, IMAGE_SIZE, IMAGE_SIZE, 1), N);
  process.stdout.write(
    `wrote ${ref.cachePath}; Frechet distance to the test set at n = ${N}: training images ${trainFd.toFixed(3)}, Gaussian noise ${noiseFd.toFixed(1)}\n`,
  );
  if (!values['no-readme']) {
    const args = argv.filter((a) => a !== '--no-readme');
    const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
    const readme = `# MNIST classifier for the Frechet distance

\`mnist-lenet.safetensors\` holds the weights of the LeNet-style classifier of
\`src/eval/classifier.ts\`, whose penultimate activations (fc2 after its relu, 84 features) are the
feature space of \`unetc eval\`'s MNIST Frechet distance (see \`src/eval/frechet.ts\`).

| | |
| --- | --- |
| test accuracy (MNIST test set, 10,000 images) | **${pct}%** |
| test accuracy after each epoch | ${r.epochAccuracy.map((a) => (100 * a).toFixed(2) + '%').join(', ')} |
| parameters | ${r.classifier.paramCount().toLocaleString('en-US')} |
| seed | ${o.seed} |
| training | ${o.epochs} epochs of ${o.limit ?? 60000} training images, batch ${o.batch}, Adam, lr ${o.lr} cosine-decayed to 1%, random shifts of up to ${o.augment} px |
| backend | ${backend} |
| training time | ${r.seconds.toFixed(0)} s (${r.steps} steps) |
| command | \`npm run train:classifier${args.length ? ' -- ' + args.join(' ') : ''}\` |
| date | ${new Date().toISOString().slice(0, 10)} |
| sha256 of the weights | \`${digest}\` |
| Frechet distance to the test set, ${N.toLocaleString('en-US')} training images | ${trainFd.toFixed(3)} |
| Frechet distance to the test set, ${N.toLocaleString('en-US')} Gaussian-noise images | ${noiseFd.toFixed(1)} |

Architecture (input 32x32x1 in [-1, 1], MNIST padded by 2 with the background -1):
conv 5x5x16 -> relu -> maxpool 2 -> conv 5x5x32 -> relu -> maxpool 2 -> dense 120 -> relu ->
dense 84 -> relu (the features) -> dense 10. Tensors are stored in tfjs layout (conv HWIO, dense
[in, out]).

Training is deterministic under the seed: the same command on the same backend writes the same
bytes (the sha256 above).

The two distances are reference points for \`unetc eval\` at its default n = 10,000: real digits
(the first 10,000 training images) score ${trainFd.toFixed(2)}, most of it the finite-sample bias of
the covariance estimates, which grows as n shrinks (compare runs at the same n); noise scores
${noiseFd.toFixed(0)}.

\`mnist-test-stats.json\` beside it caches the mean and covariance of the MNIST test set's features;
it is keyed by the sha256 of these weights and of the test-set image file (and checks its own
payload's sha256), and \`unetc eval\` recomputes it when any of them differs.
`;
    const path = join(dirname(out), 'README.md');
    writeFileSync(path, readme);
    process.stdout.write(`wrote ${relative(root, path) || path}\n`);
  }
  r.classifier.dispose();
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
