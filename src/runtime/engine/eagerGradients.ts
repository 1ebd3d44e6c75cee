/**
 * `variableGradsEager`: tf.variableGrads with a backward pass that frees memory as it goes.
 *
 * Why: tfjs's backward pass (engine.gradients -> backpropagateGradients in tape.ts) keeps every
 * tensor saved for backprop and every intermediate gradient alive until the whole backward pass
 * ends, and the intermediates of a tf.customGrad gradient (our GroupNorm and SiLU) too, since
 * those are computed outside the per-input tidy. For the U-Nets we train that is several GiB at
 * batch 64, more than wasm32's 4 GiB heap.
 *
 * How it mirrors tfjs 4.22 (engine.ts `gradients`, `variableGrads` in gradients.ts, tape.ts):
 * - the forward pass runs exactly as engine.gradients runs it: startTape, tidy('forward', f),
 *   endTape, so the same kernels record the same tape nodes and save the same tensors;
 * - the tape is filtered as getFilteredNodesXToY does (nodes that come from a variable and lead
 *   to y; inputs not from a variable pruned);
 * - nodes are walked in reverse tape order, each node's gradient function is called with its
 *   output gradients (the engine's wrapper substitutes zeros for missing ones), and each input's
 *   gradient is added to that input's accumulated gradient in the same order with the same
 *   `add`, so the results are the same tensors, bit for bit;
 * - differences, all about lifetimes: once a node's gradient is done, the gradients of its outputs
 *   are disposed (every consumer of a tensor comes after its producer on the tape, so they are
 *   complete and used) and so are its saved tensors; everything a gradient function creates is
 *   disposed when that node is done (one tidy per node); saved tensors of nodes that are not on
 *   the path from the variables to y are disposed before the walk starts; and the saved tensors of
 *   kernels whose gradients read only their shapes (Add, Sub, Reshape, Concat, Sum, Mean, ...;
 *   checked once on tiny examples) are disposed as soon as they are recorded, so that a scope
 *   inside f (tf.tidy) can free, e.g., a conv's pre-bias output, which the bias Add saves.
 * - Inside another gradient computation (engine gradientDepth > 0 on entry, e.g. a tf.grad
 *   around this call) the tape is shared with the outer computation, which may still need the
 *   saved tensors: they are then left alone, as tfjs leaves them, and only gradients are freed.
 *
 * Private engine members relied on (present in tfjs-core 4.x): `state.activeTape`,
 * `state.gradientDepth`, `startTape()`, `endTape()`, and tape nodes' `{ id, kernelName, inputs,
 * outputs, saved, gradient }`. If they are missing (another tfjs version), or a one-time probe on
 * a tiny function does not find a tape of that shape, this falls back to tf.variableGrads.
 */
import * as tf from '@tensorflow/tfjs-core';

/** A tape node as tfjs-core 4.x records it (engine.ts addTapeNode). */
interface TapeNode {
  id: number;
  kernelName: string;
  inputs: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  saved?: tf.Tensor[];
  gradient?: (dys: (tf.Tensor | null)[]) => Record<string, () => tf.Tensor>;
}

interface EngineInternals {
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
  startTape(): void;
  endTape(): void;
}

function engineInternals(): EngineInternals | undefined {
  const e = tf.engine() as unknown as Partial<EngineInternals>;
  const s = e.state as Partial<EngineInternals['state']> | undefined;
  if (typeof e.startTape !== 'function' || typeof e.endTape !== 'function') return undefined;
  // (state.activeTape only exists once a tape has been started.)
  if (s === undefined || typeof s.gradientDepth !== 'number') return undefined;
  return e as EngineInternals;
}

const isTapeNode = (n: unknown): n is TapeNode => {
  const t = n as Partial<TapeNode> | null;
  return (
    t !== null &&
    typeof t === 'object' &&
    typeof t.id === 'number' &&
    typeof t.kernelName === 'string' &&
    typeof t.inputs === 'object' &&
    t.inputs !== null &&
    Array.isArray(t.outputs) &&
    (t.saved === undefined || Array.isArray(t.saved)) &&
    (t.gradient === undefined || typeof t.gradient === 'function')
  );
};

let supported: boolean | undefined;

/**
 * Whether this tfjs records tapes the way this module reads them: checked once (outside any other
 * gradient computation), by recording the tape of a tiny tf.customGrad function and looking at it.
 */
export function eagerGradientsSupported(): boolean {
  if (supported !== undefined) return supported;
  const e = engineInternals();
  if (e === undefined) return (supported = false);
  // Inside a gradient computation the tape is shared: do not probe now (and do not decide).
  if (e.state.gradientDepth !== 0) return false;
  supported = false;
  const x = tf.scalar(3);
  const twice = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [a, save] = args as [tf.Tensor, tf.GradSaveFunc];
    save([a]);
    return { value: tf.mul(a, 2), gradFunc: (dy: tf.Tensor) => [tf.mul(dy, 2)] };
  });
  let y: tf.Tensor | undefined;
  try {
    e.startTape();
    try {
      y = tf.tidy(() => twice(x) as tf.Tensor);
    } finally {
      e.endTape();
    }
    const tape = e.state.activeTape as unknown;
    const nodes: unknown[] = Array.isArray(tape) ? tape : [];
    const node = nodes.find((n) => isTapeNode(n) && n.outputs[0] === y) as TapeNode | undefined;
    supported =
      nodes.length > 0 &&
      nodes.every(isTapeNode) &&
      node !== undefined &&
      node.inputs['0'] === x &&
      node.saved?.length === 1 &&
      typeof node.gradient === 'function';
    if (Array.isArray(tape)) releaseTape(e);
    if (supported) shapeOnlySaved = probeShapeOnlySaved(e);
  } catch {
    supported = false;
  } finally {
    y?.dispose();
    x.dispose();
  }
  return supported;
}

interface FilteredNode {
  node: TapeNode;
  /** The node's inputs that are functions of the variables (the only ones given gradients). */
  inputs: [string, tf.Tensor][];
}

/** tape.ts getFilteredNodesXToY: the nodes on a path from xs to y, inputs pruned to those from xs. */
function filterTape(tape: readonly TapeNode[], xs: readonly tf.Tensor[], y: tf.Tensor): FilteredNode[] {
  const fromX = new Set(xs.map((x) => x.id));
  const nodeFromX = new Set<number>();
  for (const n of tape) {
    if (Object.values(n.inputs).some((t) => fromX.has(t.id))) {
      nodeFromX.add(n.id);
      for (const o of n.outputs) fromX.add(o.id);
    }
  }
  const leadsToY = new Set([y.id]);
  const nodeToY = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const n = tape[i]!;
    const inputs = Object.values(n.inputs);
    if (inputs.length > 0 && n.outputs.some((o) => leadsToY.has(o.id))) {
      nodeToY.add(n.id);
      for (const t of inputs) leadsToY.add(t.id);
    }
  }
  const out: FilteredNode[] = [];
  for (const n of tape) {
    if (!nodeFromX.has(n.id) || !nodeToY.has(n.id)) continue;
    out.push({ node: n, inputs: Object.entries(n.inputs).filter(([, t]) => fromX.has(t.id)) });
  }
  return out;
}

/**
 * The gradients of the scalar f() with respect to the trainable variables of `varList` (default:
 * all registered variables), as tf.variableGrads returns them (same values, same keys: variables
 * f does not depend on are left out; non-trainable variables named in varList map to null), with
 * a backward pass that frees each gradient and saved tensor as soon as it has been used. The
 * caller disposes `value` and the gradients.
 */
export function variableGradsEager(f: () => tf.Scalar, varList?: tf.Variable[]): { value: tf.Scalar; grads: tf.NamedTensorMap } {
  const e = engineInternals();
  if (e === undefined || !eagerGradientsSupported()) return tf.variableGrads(f, varList);
  // tf.variableGrads' argument handling.
  const specified = varList !== undefined;
  const all = varList ?? Object.values(tf.engine().registeredVariables);
  const nonTrainable = specified ? all.filter((v) => !v.trainable) : [];
  const vars = all.filter((v) => v.trainable);
  if (vars.length === 0)
    throw new Error(
      `variableGrads() expects at least one of the input variables to be trainable, but none of the ${all.length} variables is trainable.`,
    );

  const nested = e.state.gradientDepth > 0;
  let y: tf.Tensor;
  e.startTape();
  if (!nested) releaseShapeOnlySavedOnRecord(e);
  try {
    y = tf.tidy('forward', f);
  } catch (err) {
    e.endTape();
    if (!nested) releaseTape(e);
    throw err;
  }
  e.endTape();
  if (!(y instanceof tf.Tensor)) {
    if (!nested) releaseTape(e);
    throw new Error('The result y returned by f() must be a tensor.');
  }
  const tape = e.state.activeTape ?? [];
  const filtered = filterTape(tape, vars, y);
  if (!nested) {
    // Saved tensors of nodes off the path from the variables to y are never used.
    const onPath = new Set(filtered.map((n) => n.node.id));
    for (const n of tape) if (!onPath.has(n.id)) releaseSaved(n, undefined);
  }

  let grads: tf.NamedTensorMap;
  try {
    grads = backward(filtered, vars, y, nested);
  } catch (err) {
    // (tfjs leaves the tape and y behind when a gradient function throws; this does not.)
    if (!nested) releaseTape(e);
    y.dispose();
    throw err;
  }
  if (!nested) releaseTape(e, new Set(Object.values(grads)));
  if (Object.keys(grads).length === 0) {
    y.dispose();
    throw new Error(
      'Cannot find a connection between any variable and the result of the loss function y=f(x). Please make sure the operations that use variables are inside the function f passed to minimize().',
    );
  }
  if (y.rank !== 0) {
    tf.dispose([y, ...Object.values(grads)]);
    throw new Error(`The f passed in variableGrads(f) must return a scalar, but it returned a rank-${y.rank} tensor`);
  }
  for (const v of nonTrainable) (grads as Record<string, tf.Tensor | null>)[v.name] = null;
  return { value: y as tf.Scalar, grads };
}

/** The walk over the filtered tape (tape.ts backpropagateGradients, freeing as it goes). */
function backward(filtered: FilteredNode[], vars: tf.Variable[], y: tf.Tensor, nested: boolean): tf.NamedTensorMap {
  return tf.tidy('backward', () => {
    // Accumulated gradient per tensor id. A gradient function may return one of its dys
    // unchanged, so one tensor can be the gradient of several ids: count the references.
    const acc = new Map<number, tf.Tensor>();
    const refs = new Map<tf.Tensor, number>();
    const release = (t: tf.Tensor) => {
      const c = (refs.get(t) ?? 1) - 1;
      if (c > 0) refs.set(t, c);
      else {
        refs.delete(t);
        t.dispose();
      }
    };
    const put = (id: number, t: tf.Tensor) => {
      refs.set(t, (refs.get(t) ?? 0) + 1);
      const prev = acc.get(id);
      acc.set(id, t);
      if (prev !== undefined) release(prev);
    };
    const varIds = new Set(vars.map((v) => v.id));
    put(y.id, tf.ones(y.shape));
    for (let i = filtered.length - 1; i >= 0; i--) {
      const { node, inputs } = filtered[i]!;
      if (node.gradient === undefined) throw new Error(`Cannot compute gradient: gradient function not found for ${node.kernelName}.`);
      const dys = node.outputs.map((o) => acc.get(o.id) ?? null);
      // One scope per node: what the gradient function makes besides the input gradients (the
      // zeros the engine substitutes for missing dys, a customGrad's intermediates) goes now.
      const dxs = tf.tidy(() => {
        const ig = node.gradient!(dys);
        return inputs.map(([name, x]) => {
          if (!(name in ig)) throw new Error(`Cannot backprop through input ${name}. Available gradients found: ${Object.keys(ig)}.`);
          const dx = tf.tidy(() => ig[name]!());
          if (dx.dtype !== 'float32')
            throw new Error(
              `Error in gradient for op ${node.kernelName}. The gradient of input ${name} must have 'float32' dtype, but has '${dx.dtype}'`,
            );
          if (!tf.util.arraysEqual(dx.shape, x.shape))
            throw new Error(
              `Error in gradient for op ${node.kernelName}. The gradient of input '${name}' has shape '${dx.shape}', which does not match the shape of the input '${x.shape}'`,
            );
          return dx;
        });
      });
      inputs.forEach(([, x], k) => {
        const dx = dxs[k]!;
        const cur = acc.get(x.id);
        if (cur === undefined) put(x.id, dx);
        else {
          put(x.id, tf.add(cur, dx));
          if (!refs.has(dx)) dx.dispose();
        }
      });
      // The gradients of this node's outputs are complete and used: every consumer came later.
      for (const o of node.outputs) {
        const g = acc.get(o.id);
        if (g !== undefined && !varIds.has(o.id)) {
          acc.delete(o.id);
          release(g);
        }
      }
      if (!nested) releaseSaved(node, refs);
    }
    const named: tf.NamedTensorMap = {};
    for (const v of vars) {
      const g = acc.get(v.id);
      if (g !== undefined) named[v.name] = g;
    }
    return named;
  });
}

/**
 * Kernels whose tfjs gradient (tfjs-core 4.x gradients/*_grad.ts) reads nothing of the tensors the
 * engine saves for it but their shapes (broadcast reductions of Add and Sub, split sizes of Concat,
 * ...), each with a tiny example for {@link probeShapeOnlySaved}.
 */
const SHAPE_ONLY_CANDIDATES: readonly [string, (x: tf.Tensor2D, b: tf.Tensor1D) => tf.Tensor][] = [
  [tf.Add, (x, b) => tf.add(x, b)],
  [tf.Sub, (x, b) => tf.sub(x, b)],
  [tf.AddN, (x) => tf.addN([x, x])],
  [tf.Reshape, (x) => tf.reshape(x, [3, 2])],
  [tf.Sum, (x) => tf.sum(x, 1)],
  [tf.Mean, (x) => tf.mean(x, 0)],
  [tf.Concat, (x) => tf.concat([x, x], 1)],
  [
    tf.PadV2,
    (x) =>
      tf.pad(x, [
        [1, 0],
        [0, 2],
      ]),
  ],
  [tf.Slice, (x) => tf.slice(x, [0, 1], [2, 2])],
];

/** The kernels of SHAPE_ONLY_CANDIDATES that passed {@link probeShapeOnlySaved} (set with `supported`). */
let shapeOnlySaved: ReadonlySet<string> = new Set();

/** Kernels whose saved tensors variableGradsEager disposes as they are recorded (after its first use). */
export function shapeOnlySavedKernels(): string[] {
  return [...shapeOnlySaved];
}

/**
 * Of SHAPE_ONLY_CANDIDATES, the kernels whose registered gradient runs on its example with the
 * saved tensors disposed (reading their data would throw), i.e. tfjs's own gradients and not some
 * replacement registered since.
 */
function probeShapeOnlySaved(e: EngineInternals): Set<string> {
  const ok = new Set<string>();
  const x = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
  const b = tf.tensor1d([1, -1, 2]);
  for (const [kernel, op] of SHAPE_ONLY_CANDIDATES) {
    let out: tf.Tensor | undefined;
    try {
      e.startTape();
      try {
        out = op(x, b);
      } finally {
        e.endTape();
      }
      const node = (e.state.activeTape ?? []).find((n) => n.kernelName === kernel && n.outputs.includes(out!));
      if (node?.gradient !== undefined && node.saved !== undefined && node.saved.length > 0) {
        for (const t of node.saved) t.dispose();
        const grad = node.gradient;
        tf.tidy(() => {
          const g = grad(node.outputs.map((o) => tf.onesLike(o)));
          for (const name of Object.keys(node.inputs)) g[name]!();
        });
        ok.add(kernel);
      }
    } catch {
      // Its gradient reads more than shapes: its saved tensors stay.
    } finally {
      releaseTape(e);
      out?.dispose();
    }
  }
  x.dispose();
  b.dispose();
  return ok;
}

/**
 * Makes the tape being recorded dispose, as each node is recorded, the saved tensors of the kernels
 * in `shapeOnlySaved` (a disposed tensor keeps its shape, all their gradients read). Saved, they
 * would keep, e.g., every conv's pre-bias output (saved by the bias Add) alive until the backward
 * pass reaches that Add, only for its shape, and no scope inside f could free them earlier. Only
 * for a tape of our own (not nested in another gradient computation, whose tape it is).
 */
function releaseShapeOnlySavedOnRecord(e: EngineInternals): void {
  const tape = e.state.activeTape;
  if (!Array.isArray(tape) || shapeOnlySaved.size === 0) return;
  const push = tape.push;
  tape.push = function (this: TapeNode[], ...nodes: TapeNode[]): number {
    for (const n of nodes) if (shapeOnlySaved.has(n.kernelName)) for (const t of n.saved ?? []) t.dispose();
    return push.apply(this, nodes);
  };
}

/** Disposes a node's saved tensors (except any that is a live gradient) and forgets them. */
function releaseSaved(node: TapeNode, live: Map<tf.Tensor, number> | undefined): void {
  const saved = node.saved;
  if (saved === undefined || saved.length === 0) return;
  for (const t of saved) if (live === undefined || !live.has(t)) t.dispose();
  // The gradient closure holds this same array: empty it in place.
  saved.length = 0;
}

/** What engine.gradients does at gradient depth 0: dispose all saved tensors, drop the tape. */
function releaseTape(e: EngineInternals, keep?: Set<tf.Tensor>): void {
  for (const n of e.state.activeTape ?? []) {
    for (const t of n.saved ?? []) if (keep === undefined || !keep.has(t)) t.dispose();
    if (n.saved) n.saved.length = 0;
  }
  e.state.activeTape = null;
}
