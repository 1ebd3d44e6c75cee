/**
 * Every diagnostic unetc can report, declared once with a stable code (as the TypeScript compiler's
 * diagnostic catalogue does). Code refers to entries by name, never by literal code or wording, so
 * tests can pin codes and users can search for them.
 *
 * Ranges: E01xx syntax, E02xx names and structure, E03xx types and values, E04xx topology and
 * shapes, E05xx conditioning, E06xx diffusion and training settings, W07xx warnings.
 */
export type Severity = 'error' | 'warning';

export interface MessageDef {
  code: string;
  severity: Severity;
}

function e(code: string): MessageDef {
  return { code, severity: 'error' };
}
function w(code: string): MessageDef {
  return { code, severity: 'warning' };
}

export const Diag = {
  // --- syntax ---
  UnexpectedCharacter: e('E0101'),
  UnterminatedString: e('E0102'),
  UnexpectedToken: e('E0103'),
  UnexpectedEndOfInput: e('E0104'),
  InvalidNumber: e('E0105'),
  NestingTooDeep: e('E0106'),
  TokenTooLong: e('E0107'),
  UnterminatedComment: e('E0108'),
  InputTooLarge: e('E0109'),

  // --- names and structure ---
  UnknownSection: e('E0201'),
  UnknownField: e('E0202'),
  UnknownName: e('E0203'),
  DuplicateField: e('E0204'),
  DuplicateLet: e('E0205'),
  UnknownKind: e('E0206'),
  UnknownArgument: e('E0207'),
  MissingField: e('E0208'),
  MissingArgument: e('E0209'),
  ExtendsNotFound: e('E0210'),
  ExtendsCycle: e('E0211'),
  SectionExpected: e('E0212'),
  FieldExpected: e('E0213'),
  DuplicateArgument: e('E0214'),
  SelfReferentialLet: e('E0215'),
  ExtendsTooDeep: e('E0216'),

  // --- types and values ---
  TypeMismatch: e('E0301'),
  NotAnInteger: e('E0302'),
  OutOfRange: e('E0303'),
  WrongListLength: e('E0304'),
  DivisionByZero: e('E0305'),
  NotFinite: e('E0306'),
  EmptyList: e('E0307'),

  // --- topology and shapes ---
  ImageNotDivisible: e('E0401'),
  GroupsNotDivisible: e('E0402'),
  AttentionResolutionMissing: e('E0403'),
  SkipCountMismatch: e('E0404'),
  BadWidth: e('E0405'),
  ModelTooLarge: e('E0406'),
  TooManyModules: e('E0407'),
  HeadsNotDivisible: e('E0408'),
  ResolutionTooSmall: e('E0409'),
  SkipsUnbalancedPerLevel: e('E0410'),

  // --- conditioning ---
  RankTooSmall: e('E0501'),
  RankTooLarge: e('E0502'),
  BasesTooFew: e('E0503'),
  TimeLoraContinuous: e('E0504'),
  TimeLoraWithoutT: e('E0505'),
  ClassLoraWithoutClasses: e('E0506'),
  ConditioningTargetMissing: e('E0507'),
  SelectorMatchesNothing: e('E0508'),
  ConflictingConditioning: e('E0509'),
  BasesExceedSteps: e('E0510'),
  LabelsUnused: e('E0511'),
  ConditioningNotAllowedHere: e('E0512'),
  AblationTargetMissing: e('E0513'),
  ModulationTargetMissing: e('E0514'),

  // --- diffusion and training ---
  ProcessOptionMismatch: e('E0601'),
  EmaOutOfRange: e('E0602'),
  HybridLossNeedsLearnedSigma: e('E0603'),
  TableNeedsSteps: e('E0604'),
  AugmentLabelsDontFit: e('E0605'),

  // --- the compiler's own consistency (a bug in unetc, reported rather than thrown) ---
  IrInvariantBroken: e('E0901'),

  // --- warnings ---
  TooManyErrors: w('W0702'),
} as const;

export type DiagName = keyof typeof Diag;
