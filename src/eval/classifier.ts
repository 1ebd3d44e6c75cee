/**
 * A small LeNet-style MNIST classifier, written with tfjs-core ops and named variables, whose
 * penultimate activations are the feature space of the MNIST Frechet distance (src/eval/frechet.ts).
 *
 *   input 32x32x1 in [-1, 1] (MNIST padded by 2 with the background, -1, as loadMnist gives it)
 *   conv1 5x5, 16 -> relu -> maxpool 2   (28x28x16 -> 14x14x16)
 *   conv2 5x5, 32 -> relu -> maxpool 2   (10x10x32 -> 5x5x32)
 *   fc1 800 -> 120 -> relu
 *   fc2 120 -> 84  -> relu               the features (FEATURE_DIM = 84)
 *   fc3 84  -> 10                        the logits
 *
 * Weights are stored in tfjs layout (conv HWIO, dense [in, out]) in a safetensors file.
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensorsFile, SafetensorsError, writeSafetensorsAtomic, type SafeTensor } from '../runtime/io/safetensors.ts';
import { mulberry32, stepSeed } from '../runtime/train/rng.ts';

export const CLASSIFIER_FORMAT = 'unetc-mnist-lenet-1';
export const IMAGE_SIZE = 32;
export const FEATURE_DIM = 84;
export const NUM_CLASSES = 10;

/** Parameter names and shapes (tfjs layout), with the fan-in used for initialisation. */
export const CLASSIFIER_PARAMS: readonly { name: string; shape: number[]; fanIn: number }[] = [
  { name: 'conv1.weight', shape: [5, 5, 1, 16], fanIn: 25 },
  { name: 'conv1.bias', shape: [16], fanIn: 25 },
  { name: 'conv2.weight', shape: [5, 5, 16, 32], fanIn: 400 },
  { name: 'conv2.bias', shape: [32], fanIn: 400 },
  { name: 'fc1.weight', shape: [800, 120], fanIn: 800 },
  { name: 'fc1.bias', shape: [120], fanIn: 800 },
  { name: 'fc2.weight', shape: [120, FEATURE_DIM], fanIn: 120 },
  { name: 'fc2.bias', shape: [FEATURE_DIM], fanIn: 120 },
  { name: 'fc3.weight', shape: [FEATURE_DIM, NUM_CLASSES], fanIn: FEATURE_DIM },
  { name: 'fc3.bias', shape: [NUM_CLASSES], fanIn: FEATURE_DIM },
];

/** The committed weights: assets/classifier/mnist-lenet.safetensors of the unetc package. */
export function defaultClassifierPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const p = join(dir, 'assets', 'classifier', 'mnist-lenet.safetensors');
    if (existsSync(p)) return p;
    dir = dirname(dir);
  }
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'assets', 'classifier', 'mnist-lenet.safetensors');
}

let instances = 0;

export interface ClassifierOutput {
  /** [n, FEATURE_DIM] penultimate activations (after the relu). */
  features: tf.Tensor2D;
  /** [n, 10] logits. */
  logits: tf.Tensor2D;
}

export class Classifier {
  /** Variables by parameter name (their tfjs names carry a per-instance suffix: tfjs names are global). */
  readonly vars = new Map<string, tf.Variable>();

  private constructor(values: Map<string, Float32Array>) {
    const id = instances++;
    for (const p of CLASSIFIER_PARAMS) {
      const data = values.get(p.name)!;
      this.vars.set(p.name, tf.variable(tf.tensor(data, p.shape, 'float32'), true, `mnist_lenet_${id}/${p.name}`));
    }
  }

  /**
   * Fresh weights from a seed: He-uniform weights (bound sqrt(6 / fanIn)), zero biases, drawn on
   * the host with mulberry32 so they are the same on every backend.
   */
  static init(seed: number): Classifier {
    const values = new Map<string, Float32Array>();
    CLASSIFIER_PARAMS.forEach((p, k) => {
      const n = p.shape.reduce((a, b) => a * b, 1);
      const a = new Float32Array(n);
      if (p.name.endsWith('.weight')) {
        const rand = mulberry32(stepSeed(seed, k, 101));
        const bound = Math.sqrt(6 / p.fanIn);
        for (let i = 0; i < n; i++) a[i] = (2 * rand() - 1) * bound;
      }
      values.set(p.name, a);
    });
    return new Classifier(values);
  }

  /** Loads weights written by {@link Classifier.save}; every parameter must be there with its shape. */
  static load(path = defaultClassifierPath()): Classifier {
    if (!existsSync(path)) throw new SafetensorsError(path, 'no such classifier weights file (train one with `npm run train:classifier`)');
    const d = readSafetensorsFile(path);
    if (d.metadata.format !== CLASSIFIER_FORMAT)
      throw new SafetensorsError(
        path,
        `not an MNIST classifier of this version (format ${JSON.stringify(d.metadata.format)}, expected ${CLASSIFIER_FORMAT})`,
      );
    const values = new Map<string, Float32Array>();
    for (const p of CLASSIFIER_PARAMS) {
      const t = d.tensors.get(p.name);
      if (!t) throw new SafetensorsError(path, `missing tensor ${p.name}`);
      if (t.shape.length !== p.shape.length || t.shape.some((s, i) => s !== p.shape[i])) {
        throw new SafetensorsError(path, `${p.name} has shape [${t.shape}], expected [${p.shape}]`);
      }
      values.set(p.name, t.data instanceof Float32Array ? t.data : Float32Array.from(t.data));
    }
    return new Classifier(values);
  }

  save(path: string, metadata: Record<string, string> = {}): void {
    const tensors = new Map<string, SafeTensor>();
    for (const p of CLASSIFIER_PARAMS)
      tensors.set(p.name, { dtype: 'F32', shape: p.shape, data: this.vars.get(p.name)!.dataSync() as Float32Array });
    writeSafetensorsAtomic(path, tensors, {
      ...metadata,
      format: CLASSIFIER_FORMAT,
      layout: 'tfjs (conv HWIO, dense [in, out])',
      input: '32x32x1 NHWC in [-1, 1]',
      features: `fc2 after relu (${FEATURE_DIM})`,
    });
  }

  /** Runs the network on [n, 32, 32, 1] images in [-1, 1]. */
  forward(x: tf.Tensor4D): ClassifierOutput {
    return tf.tidy(() => {
      const v = (k: string) => this.vars.get(k)!;
      let h = tf.relu(tf.add(tf.conv2d(x, v('conv1.weight') as tf.Tensor4D, 1, 'valid'), v('conv1.bias'))) as tf.Tensor4D;
      h = tf.maxPool(h, 2, 2, 'valid');
      h = tf.relu(tf.add(tf.conv2d(h, v('conv2.weight') as tf.Tensor4D, 1, 'valid'), v('conv2.bias'))) as tf.Tensor4D;
      h = tf.maxPool(h, 2, 2, 'valid');
      const flat = tf.reshape(h, [x.shape[0], -1]) as tf.Tensor2D;
      const h1 = tf.relu(tf.add(tf.matMul(flat, v('fc1.weight') as tf.Tensor2D), v('fc1.bias'))) as tf.Tensor2D;
      const features = tf.relu(tf.add(tf.matMul(h1, v('fc2.weight') as tf.Tensor2D), v('fc2.bias'))) as tf.Tensor2D;
      const logits = tf.add(tf.matMul(features, v('fc3.weight') as tf.Tensor2D), v('fc3.bias')) as tf.Tensor2D;
      return { features, logits };
    });
  }

  paramCount(): number {
    let n = 0;
    for (const v of this.vars.values()) n += v.size;
    return n;
  }

  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
    this.vars.clear();
  }
}
