/**
 * Registers tfjs's gradient functions. The Node build of @tensorflow/tfjs-core registers none (the
 * umbrella @tensorflow/tfjs package does, into the registry every tfjs-core copy shares), so
 * without this import tf.grad fails on every op.
 */
import '@tensorflow/tfjs';
