/**
 * A PROTOTYPE of two runtime memory fixes, for measurement only (bench/train-step.ts
 * --prototype-memory-fix); the runtime itself (src/) does not use it.
 *
 * 1. tfjs-backend-wasm's Identity kernel copies its input (Identity.ts: makeOutput + set), and the
 *    engine clones with Identity every tensor a kernel or a tf.customGrad saves for backprop
 *    (engine.saveTensorsForBackwardMode / customGrad's save: keep(clone(t))). So during the forward
 *    pass every saved activation exists twice. The cpu backend's Identity shares the buffer
 *    (incRef); `shareIdentity` registers the same for wasm (BackendWasm has incRef / refCount).
 * 2. tfjs's backward pass (engine.gradients -> tape.backpropagateGradients) keeps every tensor saved
 *    for backprop and every intermediate gradient alive until the whole backward pass ends.
 *    `variableGradsEager` walks the same tape (same gradient functions, same order, same
 *    results) but disposes each node's output gradients and saved tensors as soon as that node is
 *    done: all of a tensor's consumers come after its producer on the tape.
 */
import * as tf from '@tensorflow/tfjs-core';

interface TapeNode {
  id: number;
  kernelName: string;
  inputs: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  saved?: tf.Tensor[];
  gradient?: (dys: (tf.Tensor | null)[]) => Record<string, () => tf.Tensor>;
}

function filterTape(tape: TapeNode[], xs: tf.Tensor[], y: tf.Tensor): { node: TapeNode; inputs: Record<string, tf.Tensor> }[] {
  const fromX = new Set(xs.map((x) => x.id));
  const nodeFromX = new Set<number>();
  for (const n of tape) {
    if (Object.values(n.inputs).some((t) => fromX.has(t.id))) {
      nodeFromX.add(n.id);
      n.outputs.forEach((o) => fromX.add(o.id));
    }
  }
  const leadsToY = new Set([y.id]);
  const nodeToY = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const n = tape[i];
    if (n.outputs.some((o) => leadsToY.has(o.id))) {
      nodeToY.add(n.id);
      Object.values(n.inputs).forEach((t) => leadsToY.add(t.id));
    }
  }
  const out = [];
  for (const n of tape) {
    if (!nodeFromX.has(n.id) || !nodeToY.has(n.id)) continue;
    const inputs: Record<string, tf.Tensor> = {};
    for (const [k, t] of Object.entries(n.inputs)) if (fromX.has(t.id)) inputs[k] = t;
    out.push({ node: n, inputs });
  }
  return out;
}

export function variableGradsEager(f: () => tf.Scalar, varList: tf.Variable[]): { value: tf.Scalar; grads: tf.NamedTensorMap } {
  const E = tf.engine() as unknown as {
    state: { activeTape: TapeNode[] | null; gradientDepth: number };
    scopedRun: Function;
    startTape(): void;
    endTape(): void;
    tidy: Function;
    keep<T>(t: T): T;
  };
  const y = E.scopedRun(
    () => E.startTape(),
    () => E.endTape(),
    () => E.tidy('forward', f),
  ) as tf.Scalar;
  const tape = E.state.activeTape!;
  const filtered = filterTape(tape, varList, y);
  const xIds = new Set(varList.map((v) => v.id));
  const grads = tf.tidy(() => {
    const acc = new Map<number, tf.Tensor>();
    const refs = new Map<tf.Tensor, number>();
    const decr = (t: tf.Tensor) => {
      const c = (refs.get(t) ?? 1) - 1;
      if (c > 0) refs.set(t, c);
      else {
        refs.delete(t);
        t.dispose();
      }
    };
    const set = (id: number, t: tf.Tensor) => {
      refs.set(t, (refs.get(t) ?? 0) + 1);
      const prev = acc.get(id);
      acc.set(id, t);
      if (prev) decr(prev);
    };
    set(y.id, tf.onesLike(y));
    for (let i = filtered.length - 1; i >= 0; i--) {
      const { node, inputs } = filtered[i];
      const dys = node.outputs.map((o) => acc.get(o.id) ?? null);
      const ig = node.gradient!(dys);
      for (const [name, x] of Object.entries(inputs)) {
        const dx = tf.tidy(() => ig[name]());
        const cur = acc.get(x.id);
        if (cur == null) set(x.id, dx);
        else {
          set(x.id, tf.add(cur, dx));
          if (!refs.has(dx)) dx.dispose();
        }
      }
      // The gradients of this node's outputs are complete and used: every consumer came later on the tape.
      for (const o of node.outputs) {
        const g = acc.get(o.id);
        if (g && !xIds.has(o.id)) {
          acc.delete(o.id);
          decr(g);
        }
      }
      for (const t of node.saved ?? []) t.dispose();
      node.saved = [];
    }
    const named: Record<string, tf.Tensor> = {};
    for (const v of varList) {
      const g = acc.get(v.id);
      if (g) named[v.name] = g;
    }
    return named;
  });
  if (E.state.gradientDepth === 0) {
    for (const n of tape) for (const t of n.saved ?? []) t.dispose();
    E.state.activeTape = null;
  }
  return { value: y, grads };
}

/** Replaces the wasm Identity kernel by one that shares the input's buffer (as the cpu backend's does). */
export function shareIdentity(): void {
  tf.unregisterKernel(tf.Identity, 'wasm');
  tf.registerKernel({
    kernelName: tf.Identity,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend }) => {
      const x = inputs.x as tf.TensorInfo;
      (backend as unknown as { incRef(d: object): void }).incRef(x.dataId);
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
    },
  });
}
