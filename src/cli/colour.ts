/**
 * Colour on a terminal, by the conventions of https://no-color.org and FORCE_COLOR: NO_COLOR (any
 * non-empty value) turns it off; FORCE_COLOR turns it on even when the output is piped (0 or false
 * turns it off); otherwise a terminal that says it has colours gets them.
 */
export function useColour(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR) return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined) return !['0', 'false'].includes(force.toLowerCase());
  return stream.isTTY === true && (typeof stream.hasColors !== 'function' || stream.hasColors());
}

/** SGR codes (set, reset); written out because util.styleText decides about colour by itself. */
const STYLES = { red: [31, 39], yellow: [33, 39], green: [32, 39], cyan: [36, 39], bold: [1, 22], dim: [2, 22] } as const;
type Style = keyof typeof STYLES;

/** `text` in the given styles (ANSI escapes; the caller decides whether colour is on). */
export function paint(text: string, ...styles: Style[]): string {
  return styles.reduce((t, s) => `\u001b[${STYLES[s][0]}m${t}\u001b[${STYLES[s][1]}m`, text);
}
