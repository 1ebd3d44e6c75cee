/** A place in a source file. Lines and columns are 1-based, as editors show them. */
export interface Span {
  file: string;
  offset: number;
  length: number;
  line: number;
  column: number;
}

/** A span for problems that have no better place than the start of a file. */
export function fileStart(file: string): Span {
  return { file, offset: 0, length: 0, line: 1, column: 1 };
}
