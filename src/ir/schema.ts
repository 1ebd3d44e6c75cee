/** JSON Schema of the IR (src/ir/types.ts). Checked with ajv whenever IR is written or read. */
const shape = {
  type: 'object',
  required: ['c', 'h', 'w'],
  additionalProperties: false,
  properties: { c: { type: 'integer', minimum: 1 }, h: { type: 'integer', minimum: 1 }, w: { type: 'integer', minimum: 1 } },
};
const scalar = { type: ['number', 'string', 'boolean'] };
const attrValue = { anyOf: [scalar, { type: 'array', items: { type: 'number' } }] };
const condRef = {
  type: 'object',
  required: ['kind', 'options'],
  additionalProperties: false,
  properties: { kind: { type: 'string' }, options: { type: 'object', additionalProperties: attrValue } },
};

export const irSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://unetc.dev/schema/ir-1.json',
  title: 'unetc IR',
  type: 'object',
  required: ['irVersion', 'name', 'input', 'diffusion', 'training', 'embedDim', 'embedding', 'resampleFilter', 'blocks', 'modules', 'elided'],
  additionalProperties: false,
  properties: {
    irVersion: { const: 1 },
    name: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
    input: {
      type: 'object',
      required: ['size', 'channels', 'classes', 'augment'],
      additionalProperties: false,
      properties: {
        size: { type: 'integer', minimum: 1 },
        channels: { type: 'integer', minimum: 1 },
        classes: { type: 'integer', minimum: 0 },
        augment: { type: 'integer', minimum: 0 },
      },
    },
    diffusion: { type: 'object', required: ['process'], additionalProperties: scalar, properties: { process: { enum: ['ddpm', 'edm'] } } },
    training: { type: 'object', additionalProperties: scalar },
    embedDim: { type: 'integer', minimum: 0 },
    resampleFilter: { type: 'array', items: { type: 'number' }, minItems: 1 },
    embedding: {
      type: 'object',
      required: ['noise', 'label', 'augment', 'mlp', 'outAct'],
      additionalProperties: false,
      properties: {
        noise: {
          type: 'object',
          required: ['kind', 'dim', 'maxPositions', 'endpoint', 'flip', 'scale'],
          additionalProperties: false,
          properties: {
            kind: { enum: ['sinusoidal', 'positional', 'fourier', 'table'] },
            dim: { type: 'integer', minimum: 1 },
            maxPositions: { type: 'number', exclusiveMinimum: 0 },
            endpoint: { type: 'boolean' },
            flip: { type: 'boolean' },
            scale: { type: 'number', exclusiveMinimum: 0 },
          },
        },
        label: { type: 'object', required: ['kind', 'at'], additionalProperties: false, properties: { kind: { enum: ['none', 'embedding', 'linear'] }, at: { enum: ['input', 'output'] } } },
        augment: { type: 'object', required: ['kind'], additionalProperties: false, properties: { kind: { enum: ['none', 'linear'] } } },
        mlp: { type: 'array', items: { type: 'integer', minimum: 1 } },
        outAct: { type: 'boolean' },
      },
    },
    elided: { type: 'array', items: { type: 'string' } },
    blocks: {
      type: 'array',
      items: {
        type: 'object',
        required: ['path', 'kind', 'part', 'in', 'out', 'pushSkip', 'attention', 'conditioning', 'origin'],
        additionalProperties: false,
        properties: {
          path: { type: 'string', minLength: 1 },
          kind: { enum: ['embedding', 'stem', 'res', 'down', 'up', 'head'] },
          part: { enum: ['emb', 'enc', 'mid', 'dec', 'out'] },
          in: shape,
          out: shape,
          skipIn: { type: 'integer', minimum: 1 },
          pushSkip: { type: 'boolean' },
          attention: { type: 'boolean' },
          resample: { enum: ['down', 'up'] },
          heads: { type: 'integer', minimum: 1 },
          style: {
            type: 'object',
            required: ['order', 'residual', 'outputScale', 'dropout'],
            additionalProperties: false,
            properties: {
              order: { enum: ['pre', 'post'] },
              residual: { type: 'boolean' },
              outputScale: { type: 'number', exclusiveMinimum: 0 },
              dropout: { type: 'number', minimum: 0, exclusiveMaximum: 1 },
            },
          },
          conditioning: {
            type: 'object',
            required: ['residual', 'attention'],
            additionalProperties: false,
            properties: { residual: { type: 'array', items: condRef }, attention: { type: 'array', items: condRef } },
          },
          origin: {
            type: 'object',
            required: ['file', 'line'],
            additionalProperties: false,
            properties: { file: { type: 'string' }, line: { type: 'integer', minimum: 1 } },
          },
        },
      },
    },
    modules: {
      type: 'array',
      items: {
        type: 'object',
        required: ['path', 'kind', 'block', 'role', 'params', 'attrs', 'flops', 'outputElems'],
        additionalProperties: false,
        properties: {
          path: { type: 'string', minLength: 1 },
          kind: {
            enum: ['conv2d', 'conv_transpose2d', 'linear', 'group_norm', 'layer_norm', 'embedding_table', 'noise_embedding', 'attention_core', 'resample', 'time_lora', 'class_lora', 'uc_lora'],
          },
          block: { type: 'string' },
          role: { enum: ['base', 'conditioning'] },
          params: {
            type: 'array',
            items: {
              type: 'object',
              required: ['name', 'shape', 'trainable', 'init'],
              additionalProperties: false,
              properties: {
                name: { type: 'string' },
                shape: { type: 'array', items: { type: 'integer', minimum: 1 } },
                trainable: { type: 'boolean' },
                init: { type: 'string' },
              },
            },
          },
          attrs: { type: 'object', additionalProperties: attrValue },
          flops: { type: 'number', minimum: 0 },
          outputElems: { type: 'integer', minimum: 0 },
        },
      },
    },
  },
} as const;
