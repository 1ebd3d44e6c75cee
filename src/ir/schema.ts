/** JSON Schema of the IR (src/ir/types.ts, src/ir/ops.ts). Checked with ajv whenever IR is written or read. */
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

const obj = (required: string[], properties: Record<string, unknown>) => ({
  type: 'object',
  required,
  additionalProperties: false,
  properties,
});
const ref = (name: string) => ({ $ref: `#/definitions/${name}` });
const str = { type: 'string', minLength: 1 };
const posInt = { type: 'integer', minimum: 1 };
const num = { type: 'number' };

/** The typed ops (src/ir/ops.ts), one definition each. */
const definitions = {
  linear: obj(['weight', 'din', 'dout'], { weight: str, bias: str, din: posInt, dout: posInt }),
  norm: obj(['kind', 'groups', 'eps'], {
    kind: { enum: ['group', 'layer'] },
    groups: posInt,
    eps: { type: 'number', exclusiveMinimum: 0 },
    weight: str,
    bias: str,
  }),
  conv: obj(['weight', 'cin', 'cout', 'kernel', 'stride', 'pad', 'lora'], {
    weight: str,
    bias: str,
    cin: posInt,
    cout: posInt,
    kernel: posInt,
    stride: posInt,
    pad: { type: 'integer', minimum: 0 },
    lora: { type: 'array', items: ref('lora') },
  }),
  convTranspose: obj(['weight', 'bias', 'cin', 'cout', 'kernel'], { weight: str, bias: str, cin: posInt, cout: posInt, kernel: posInt }),
  lora: {
    oneOf: [
      obj(['kind', 'site', 'rank', 'down', 'up', 'bases', 'steps', 'omega'], {
        kind: { const: 'time_lora' },
        site: str,
        rank: posInt,
        down: str,
        up: str,
        bases: posInt,
        steps: posInt,
        omega: str,
      }),
      obj(['kind', 'site', 'rank', 'down', 'up', 'classes'], {
        kind: { const: 'class_lora' },
        site: str,
        rank: posInt,
        down: str,
        up: str,
        classes: posInt,
      }),
      obj(['kind', 'site', 'rank', 'down', 'up', 'bases', 'hidden', 'out', 'scale'], {
        kind: { const: 'uc_lora' },
        site: str,
        rank: posInt,
        down: str,
        up: str,
        bases: posInt,
        hidden: { type: 'array', items: obj(['linear', 'norm'], { linear: ref('linear'), norm: ref('norm') }) },
        out: ref('linear'),
        bias: str,
        scale: { anyOf: [str, num] },
      }),
    ],
  },
  attention: obj(['norm', 'qkv', 'proj', 'heads', 'layout', 'outputScale'], {
    norm: { anyOf: [ref('norm'), { type: 'null' }] },
    adaln: ref('linear'),
    qkv: ref('conv'),
    proj: ref('conv'),
    heads: posInt,
    layout: { enum: ['interleaved', 'per_head'] },
    outputScale: { type: 'number', exclusiveMinimum: 0 },
  }),
  op: {
    oneOf: [
      obj(['op', 'noise', 'mlp', 'outAct'], {
        op: { const: 'embedding' },
        noise: obj(['kind', 'dim', 'maxPositions', 'endpoint', 'flip', 'scale', 'inputScale'], {
          kind: { enum: ['sinusoidal', 'positional', 'fourier', 'table'] },
          dim: posInt,
          maxPositions: { type: 'number', exclusiveMinimum: 0 },
          endpoint: { type: 'boolean' },
          flip: { type: 'boolean' },
          scale: { type: 'number', exclusiveMinimum: 0 },
          inputScale: { type: 'number', exclusiveMinimum: 0 },
          table: str,
        }),
        label: obj(['at', 'scale'], {
          at: { enum: ['input', 'output'] },
          scale: { type: 'number', exclusiveMinimum: 0 },
          table: str,
          linear: ref('linear'),
        }),
        augment: ref('linear'),
        mlp: { type: 'array', items: ref('linear') },
        outAct: { type: 'boolean' },
      }),
      obj(['op', 'conv'], { op: { const: 'stem' }, conv: ref('conv') }),
      obj(['op', 'mode'], {
        op: { const: 'resample' },
        mode: { enum: ['conv', 'conv_transpose', 'nearest_conv', 'nearest', 'avgpool'] },
        conv: { anyOf: [ref('conv'), ref('convTranspose')] },
      }),
      obj(['op', 'norm', 'conv'], { op: { const: 'head' }, norm: { anyOf: [ref('norm'), { type: 'null' }] }, conv: ref('conv') }),
      obj(['op', 'order', 'norms', 'convs', 'dropout', 'residual', 'outputScale'], {
        op: { const: 'res_block' },
        order: { enum: ['pre', 'post'] },
        norms: { type: 'array', items: { anyOf: [ref('norm'), { type: 'null' }] } },
        convs: { type: 'array', minItems: 1, items: ref('conv') },
        dropout: { type: 'number', minimum: 0, exclusiveMaximum: 1 },
        resample: obj(['mode', 'filter'], { mode: { enum: ['down', 'up'] }, filter: { type: 'array', items: num, minItems: 1 } }),
        residual: { type: 'boolean' },
        skip: ref('conv'),
        outputScale: { type: 'number', exclusiveMinimum: 0 },
        modulation: obj(['kind', 'at', 'mlp'], {
          kind: { enum: ['shift', 'scale_shift'] },
          at: { enum: ['input', 'conv0', 'norm1'] },
          mlp: { type: 'array', minItems: 1, items: ref('linear') },
        }),
        attention: ref('attention'),
      }),
    ],
  },
  init: {
    oneOf: [
      obj(['fn'], { fn: { enum: ['zeros', 'ones', 'interp', 'sinusoidal'] } }),
      obj(['fn', 'std'], { fn: { const: 'normal' }, std: { type: 'number', exclusiveMinimum: 0 } }),
      obj(['fn', 'fanIn', 'fanOut', 'gain'], {
        fn: { enum: ['xavier_uniform', 'xavier_normal', 'kaiming_uniform', 'kaiming_normal'] },
        fanIn: posInt,
        fanOut: posInt,
        gain: { type: 'number', exclusiveMinimum: 0 },
      }),
    ],
  },
  layout: { anyOf: [{ enum: ['plain', 'conv', 'linear', 'chw'] }, obj(['loraDown'], { loraDown: posInt })] },
};

export const irSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://unetc.dev/schema/ir-2.json',
  title: 'unetc IR',
  type: 'object',
  required: ['irVersion', 'name', 'input', 'diffusion', 'training', 'embedDim', 'blocks', 'modules', 'elided'],
  additionalProperties: false,
  definitions,
  properties: {
    irVersion: { const: 2 },
    name: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
    input: obj(['size', 'channels', 'classes', 'augment'], {
      size: posInt,
      channels: posInt,
      classes: { type: 'integer', minimum: 0 },
      augment: { type: 'integer', minimum: 0 },
    }),
    diffusion: { type: 'object', required: ['process'], additionalProperties: scalar, properties: { process: { enum: ['ddpm', 'edm'] } } },
    training: { type: 'object', additionalProperties: scalar },
    embedDim: { type: 'integer', minimum: 0 },
    elided: { type: 'array', items: { type: 'string' } },
    blocks: {
      type: 'array',
      items: obj(['path', 'kind', 'part', 'in', 'out', 'pushSkip', 'attention', 'conditioning', 'op', 'origin'], {
        path: str,
        kind: { enum: ['embedding', 'stem', 'res', 'down', 'up', 'head'] },
        part: { enum: ['emb', 'enc', 'mid', 'dec', 'out'] },
        in: shape,
        out: shape,
        skipIn: posInt,
        pushSkip: { type: 'boolean' },
        attention: { type: 'boolean' },
        resample: { enum: ['down', 'up'] },
        heads: posInt,
        conditioning: obj(['residual', 'attention'], {
          residual: { type: 'array', items: condRef },
          attention: { type: 'array', items: condRef },
        }),
        op: ref('op'),
        origin: obj(['file', 'line'], { file: { type: 'string' }, line: posInt }),
      }),
    },
    modules: {
      type: 'array',
      items: obj(['path', 'kind', 'block', 'role', 'params', 'flops', 'outputElems'], {
        path: str,
        kind: {
          enum: [
            'conv2d',
            'conv_transpose2d',
            'linear',
            'group_norm',
            'layer_norm',
            'embedding_table',
            'noise_embedding',
            'attention_core',
            'resample',
            'time_lora',
            'class_lora',
            'uc_lora',
          ],
        },
        block: { type: 'string' },
        role: { enum: ['base', 'conditioning'] },
        params: {
          type: 'array',
          items: obj(['name', 'shape', 'trainable', 'init', 'layout'], {
            name: { type: 'string' },
            shape: { type: 'array', items: posInt },
            trainable: { type: 'boolean' },
            init: ref('init'),
            layout: ref('layout'),
          }),
        },
        flops: { type: 'number', minimum: 0 },
        outputElems: { type: 'integer', minimum: 0 },
      }),
    },
  },
} as const;
