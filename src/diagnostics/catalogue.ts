/**
 * Every diagnostic unetc can report, declared once (as the TypeScript compiler's diagnostic
 * catalogue does): a stable code, a severity, the message template and, where it helps, a fix
 * hint. Call sites pass the template's arguments only, so wording stays consistent, tests can pin
 * codes and users can search for them. One entry per situation: a new situation gets a new code,
 * an existing code never changes meaning.
 *
 * Templates name their arguments in braces (`{name}`); the argument types are derived from the
 * template text, so a call site that forgets or misspells one does not compile. Braces around
 * anything but a bare identifier (`{ ... }`) are literal text.
 *
 * Ranges: E01xx syntax, E02xx names and structure, E03xx types and values, E04xx topology and
 * shapes, E05xx conditioning, E06xx diffusion and training settings, W07xx warnings, E09xx the
 * compiler's own consistency.
 */
export type Severity = 'error' | 'warning';

type Placeholders<S extends string> = S extends `${string}{${infer K}}${infer R}`
  ? (K extends `${string}${' ' | '.' | '{'}${string}` | '' ? never : K) | Placeholders<R>
  : never;

/** The arguments a template needs: one string or number per `{name}` in it. */
export type ArgsOf<S extends string> = { [K in Placeholders<S>]: string | number };

export interface MessageDef<S extends string = string> {
  code: string;
  severity: Severity;
  template: S;
  /** How to fix it, printed under the source excerpt (`= help: ...`). */
  hint?: string;
}

function e<const S extends string>(code: string, template: S, hint?: string): MessageDef<S> {
  return { code, severity: 'error', template, ...(hint ? { hint } : {}) };
}
function w<const S extends string>(code: string, template: S, hint?: string): MessageDef<S> {
  return { code, severity: 'warning', template, ...(hint ? { hint } : {}) };
}

export const Diag = {
  // --- syntax ---
  UnexpectedCharacter: e('E0101', 'unexpected character {char}'),
  UnterminatedString: e('E0102', 'string literal is not closed before the end of the line'),
  UnexpectedToken: e('E0103', 'unexpected {found}{expected}'),
  UnexpectedEndOfInput: e('E0104', 'unexpected end of input: {what}'),
  InvalidNumber: e('E0105', 'number {number} is too large to represent'),
  NestingTooDeep: e('E0106', 'brackets nested more than {max} deep'),
  TokenTooLong: e('E0107', 'token of {length} characters; names and numbers are limited to {max}'),
  UnterminatedComment: e('E0108', "block comment is not closed with '*/'"),
  InputTooLarge: e('E0109', 'spec is {length} characters; the limit is {max}'),
  StringTooLong: e('E0110', 'string of {length} characters; the limit is {max}'),

  // --- names and structure ---
  UnknownSection: e('E0201', "unknown section '{name}' in {where}{suggestion}"),
  UnknownField: e('E0202', "unknown option '{name}' in {where}{suggestion}"),
  UnknownName: e('E0203', "unknown {role} '{name}'{context}{suggestion}"),
  DuplicateField: e('E0204', "'{name}' is given twice in this block"),
  DuplicateLet: e('E0205', "constant '{name}' is declared twice in this file"),
  UnknownKind: e('E0206', "unknown kind '{name}' for {what}: expected one of {kinds}{suggestion}"),
  UnknownArgument: e('E0207', "'{callee}' has no option '{name}'{options}{suggestion}"),
  MissingField: e('E0208', "{where} needs '{name}' ({doc})"),
  MissingArgument: e('E0209', "'{callee}' needs '{name}'{doc}"),
  ExtendsNotFound: e('E0210', "cannot read {what} '{path}'"),
  ExtendsCycle: e('E0211', 'extends cycle: {cycle}'),
  SectionExpected: e('E0212', "'{name}' is a section: write {name} { ... }"),
  FieldExpected: e('E0213', "'{name}' is an option: write {name}: value"),
  DuplicateArgument: e('E0214', "argument '{name}' is given twice"),
  SelfReferentialLet: e('E0215', "constant '{name}' is defined in terms of itself"),
  ExtendsTooDeep: e('E0216', 'extends chain is deeper than the limit of {max} specs: {chain}'),
  QuotedSectionName: e('E0217', 'section names are not quoted: write {name} { ... }'),
  SelectorOutsideConditioning: e('E0218', 'path selectors ("{pattern}") are only allowed in conditioning'),
  ReservedLetName: e('E0219', "'{name}' is the block-local channel count in widths and cannot be a constant"),
  MissingSection: e('E0220', "the model needs a '{name}' section (with {needs})"),
  UnsetNothing: e(
    'E0221',
    "unset {name}: the extended spec sets no '{name}' here",
    'remove the line, or name an option or section the extended spec sets',
  ),

  // --- types and values ---
  TypeMismatch: e('E0301', '{what} expects {expected}, got {got}'),
  NotAnInteger: e('E0302', '{what} must be a whole number, got {value}'),
  OutOfRange: e('E0303', '{what} = {value} is out of range (must be {range})'),
  WrongListLength: e('E0304', '{what} lists {count}, but {expected}'),
  DivisionByZero: e('E0305', 'division by zero'),
  NotFinite: e('E0306', 'the result of this expression is too large'),
  EmptyList: e('E0307', '{what} needs at least 1 item, got 0'),
  PositionalArgument: e('E0308', "arguments of '{callee}' are named: write name: value"),
  NegateNonNumber: e('E0309', 'cannot negate {what}'),
  ArithmeticOnNonNumber: e('E0310', 'cannot use {what} in arithmetic'),
  BlockLocalOutsideWidth: e('E0311', "{what}: 'in' and 'out' can only be used in block widths"),
  WidthNotInteger: e('E0312', 'a width must be a whole number, got {got}'),

  // --- topology and shapes ---
  ImageNotDivisible: e(
    'E0401',
    'image size {size} is not divisible by 2^{steps} = {factor}, which {levels} levels{below} need',
    'use an input.size divisible by it, or fewer levels in unet.mult',
  ),
  GroupsNotDivisible: e(
    'E0402',
    '{count} channels ({where}) are not divisible by {groups} GroupNorm groups{fix}',
    'use a groups count that divides every channel count of the model, or min_group_channels',
  ),
  AttentionResolutionMissing: e('E0403', "attention at {res}, but the model's levels are {levels}"),
  SkipCountMismatch: e(
    'E0404',
    'the encoder pushes {pushed} skip connections and the decoder takes {taken}: {detail}',
    'decoder_blocks must consume exactly the skips the encoder (its blocks, stem and downsampling) pushes',
  ),
  BadWidth: e('E0405', '{what} is {value}{context}: a width must be a positive whole number (at most {max})'),
  ModelTooLarge: e('E0406', 'the model would have {count} parameters; the limit is {max}'),
  TooManyModules: e('E0407', 'the model would have {count} modules; the limit is {max}'),
  HeadsNotDivisible: e(
    'E0408',
    '{channels} channels cannot be split into {heads} attention heads',
    'use heads that divide the channels of every attention level, or head_channels',
  ),
  ResolutionTooSmall: e('E0409', 'a {size}x{size} image cannot be halved {steps} times'),
  SkipsUnbalancedPerLevel: e(
    'E0410',
    "decoder block at {res} would concatenate a {skipRes} skip; the decoder's blocks per level do not mirror the encoder's",
  ),
  ResampleFilterOddLength: e(
    'E0411',
    "resample_filter {filter} has {length} taps, but up: block needs an even number: upsampling with an odd filter gives 2H - 1 rows (EDM's transposed conv with padding (k - 1) / 2), not 2H",
    'use an even-length filter such as [1, 1] or [1, 3, 3, 1]',
  ),
  ResampleFilterSumZero: e(
    'E0412',
    'resample_filter {filter} sums to 0; the filter is normalised by its sum',
    'use a filter with a non-zero sum, e.g. [1, 3, 3, 1]',
  ),

  // --- conditioning ---
  RankTooSmall: e('E0501', 'LoRA rank must be at least 1, got {rank}'),
  RankTooLarge: e(
    'E0502',
    'LoRA rank {rank} exceeds min({fanIn}, C_out) = {max} of {path}',
    'lower the rank, or restrict targets to larger layers',
  ),
  BasesTooFew: e('E0503', 'LoRA needs at least 1 basis, got {bases}'),
  TimeLoraContinuous: e('E0504', 'time_lora needs discrete timesteps, but this model uses continuous noise levels (edm); use uc_lora'),
  TimeLoraWithoutT: e('E0505', 'time_lora needs the number of timesteps: set T here or in diffusion'),
  ClassLoraWithoutClasses: e('E0506', 'class_lora needs class labels: set input.classes'),
  ConditioningTargetMissing: e('E0507', "{block} has no layer '{name}' ({has})"),
  SelectorMatchesNothing: e('E0508', 'selector "{pattern}" matches no block of this model'),
  ConflictingConditioning: e('E0509', "'{kind}' conflicts with '{other}' on the same layers: give each kind once"),
  BasesExceedSteps: e('E0510', 'time_lora has {bases} bases but only {steps} timesteps'),
  LabelsUnused: e(
    'E0511',
    'the model takes {classes} classes, but nothing reads the label ({why}): add class_lora or a conditioning that reads v',
  ),
  ConditioningNotAllowedHere: e('E0512', "'{kind}' conditions {owner} blocks; use {instead} for {here} blocks{context}"),
  AblationTargetMissing: e('E0513', '{detail}'),
  ModulationTargetMissing: e(
    'E0514',
    "{block} has {convs} conv, so no second norm for '{kind}' at norm1 to modulate; use at: input, or convs: 2 or more",
  ),
  AttentionConditioningWithoutAttention: e(
    'E0515',
    'attention conditioning is set, but the model has no attention blocks',
    'set unet.attention.at to a resolution of the model, or remove the attention conditioning',
  ),

  // --- diffusion and training ---
  ProcessOptionMismatch: e('E0601', "'{name}' is an option of {owner}, not of {process}"),
  EmaOutOfRange: e('E0602', 'ema decay {ema} never moves the average; use a value below 1'),
  HybridLossNeedsLearnedSigma: e('E0603', 'the hybrid loss trains the variance: set learn_sigma: true'),
  TableNeedsSteps: e('E0604', 'a table noise embedding needs diffusion.T rows'),
  AugmentLabelsDontFit: e(
    'E0605',
    'augment_pipe: edm conditions the network on {labels} augmentation labels, but input.augment is {augment}; set augment: {labels}',
  ),
  EmaAndHalflife: e('E0606', 'give either ema (a decay) or ema_halflife_kimg, not both'),

  // --- warnings ---
  TooManyErrors: w('W0702', 'too many errors: {count} more not shown'),

  // --- the compiler's own consistency (a bug in unetc, reported rather than thrown) ---
  IrInvariantBroken: e('E0901', 'internal error: the elaborated model is inconsistent ({details}); please report this spec'),
} as const;

export type DiagName = keyof typeof Diag;
export type DiagDef = (typeof Diag)[DiagName];

const names = new Map<string, DiagName>(Object.entries(Diag).map(([k, v]) => [v.code, k as DiagName]));

/** The catalogue name of a code (`E0602` -> `EmaOutOfRange`). */
export function nameOf(def: MessageDef): DiagName {
  return names.get(def.code)!;
}

/** A template with its arguments filled in. */
export function render<S extends string>(def: MessageDef<S>, args: ArgsOf<S>): string {
  const a = args as Record<string, string | number>;
  return def.template.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (whole, k: string) => (k in a ? String(a[k]) : whole));
}
