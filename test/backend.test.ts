/**
 * Backend selection on this machine: neither @tensorflow/tfjs-node-gpu nor
 * @tensorflow/tfjs-node is installed, so the automatic choice is wasm.
 */
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { createBackendSelector, selectBackend } from '../src/runtime/engine/select.ts';
import { isExtraWasmKernel } from '../src/runtime/engine/wasmKernels.ts';
import { isNativeKernel } from '../src/runtime/engine/native.ts';

/** The log without the line about the native kernels (present or not, depending on the machine: test/native*.test.ts check it). */
const withoutNative = (lines: string[]) => lines.filter((l) => !l.startsWith('backend: native oneDNN kernels unavailable'));

describe('selectBackend', () => {
  const logged: string[] = [];
  const log = (msg: string): void => {
    logged.push(msg);
  };

  it('picks wasm with the extra kernels and says why the node packages are absent', async () => {
    const chosen = await selectBackend({ log });
    expect(chosen.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(chosen.reason).toBe('@tensorflow/tfjs-node-gpu: not installed; @tensorflow/tfjs-node: not installed');
    expect(withoutNative(logged)).toEqual([
      'backend: @tensorflow/tfjs-node-gpu unavailable (not installed)',
      'backend: @tensorflow/tfjs-node unavailable (not installed)',
      expect.stringMatching(/^backend: wasm\b/),
    ]);
    // Ours: the native oneDNN kernels when the addon is built, else the unetc wasm kernels.
    expect(isNativeKernel(tf.Conv2DBackpropFilter) || isExtraWasmKernel(tf.Conv2DBackpropFilter)).toBe(true);
    expect(isNativeKernel(tf.Conv2DBackpropInput) || isExtraWasmKernel(tf.Conv2DBackpropInput)).toBe(true);
    expect(isExtraWasmKernel(tf.UnsortedSegmentSum)).toBe(true);
    // It computes.
    const y = tf.conv2d(tf.ones([1, 4, 4, 2]) as tf.Tensor4D, tf.ones([3, 3, 2, 1]) as tf.Tensor4D, 1, 'same');
    expect(Array.from(await y.data()).slice(0, 2)).toEqual([8, 12]);
    y.dispose();
  });

  it('is idempotent: the same result again, logged once', async () => {
    const first = await selectBackend({ log });
    const count = logged.length;
    const again = await Promise.all([selectBackend({ log }), selectBackend()]);
    expect(again[0]).toBe(first);
    expect(again[1]).toBe(first);
    expect(logged.length).toBe(count);
  });

  it("fails clearly when 'tensorflow' is requested but neither node package loads", async () => {
    await expect(selectBackend({ name: 'tensorflow', log })).rejects.toThrow(
      /backend 'tensorflow' requested but unavailable: @tensorflow\/tfjs-node-gpu: not installed; @tensorflow\/tfjs-node: not installed/,
    );
    expect(tf.getBackend()).toBe('wasm');
  });

  it('switches to cpu when asked, and back to wasm on the next automatic call', async () => {
    const cpu = await selectBackend({ name: 'cpu', log });
    expect(cpu).toEqual({ name: 'cpu', reason: 'requested' });
    expect(tf.getBackend()).toBe('cpu');
    expect(logged.at(-1)).toMatch(/^backend: cpu \(requested/);
    expect(await selectBackend({ name: 'cpu', log })).toBe(cpu);

    const auto = await selectBackend({ log });
    expect(auto.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
  });
});

describe('createBackendSelector', () => {
  it('counts a node package whose native binding fails to load as absent, and says why once', async () => {
    const logged: string[] = [];
    const select = createBackendSelector({
      importModule: async (specifier) => {
        if (specifier === '@tensorflow/tfjs-node-gpu') {
          throw new Error('libcudart.so.11.0: cannot open shared object file: No such file or directory\n    at Module._extensions..node');
        }
        if (specifier === '@tensorflow/tfjs-node') return {}; // loads, registers nothing
        return import(specifier);
      },
      wasmDir: () => {
        throw new Error('not needed: wasm is already initialised');
      },
    });
    const chosen = await select({ log: (m) => logged.push(m) });
    expect(chosen.name).toBe('wasm');
    expect(chosen.reason).toContain(
      '@tensorflow/tfjs-node-gpu: installed but failed to load: libcudart.so.11.0: cannot open shared object file',
    );
    expect(chosen.reason).toContain('@tensorflow/tfjs-node: loaded, but registered no "tensorflow" backend');
    expect(withoutNative(logged)).toHaveLength(3);

    // Asking for 'tensorflow' fails for the same reasons, without repeating them.
    await expect(select({ name: 'tensorflow', log: (m) => logged.push(m) })).rejects.toThrow(/libcudart/);
    expect(withoutNative(logged)).toHaveLength(3);
  });
});
