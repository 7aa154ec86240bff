/**
 * Colour for people, never for programs: ANSI colours only when standard
 * output is a terminal, `NO_COLOR` is unset (or empty, as no-color.org
 * says) and `TERM` is not `dumb`.
 *
 * @module
 */

/** Whether to colour output written to `stream` under `env`. */
export function shouldColor(stream: { isTTY?: boolean }, env: Readonly<Record<string, string | undefined>>): boolean {
  if (!stream.isTTY) return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  return env.TERM !== "dumb";
}

/** A palette: each function wraps text in one SGR colour, or returns it as is when colour is off. */
export interface Palette {
  bold(s: string): string;
  dim(s: string): string;
  yellow(s: string): string;
  red(s: string): string;
}

const sgr = (code: string) => (s: string) => `\x1b[${code}m${s}\x1b[0m`;
const plain = (s: string) => s;

/** The palette for `color`. */
export function palette(color: boolean): Palette {
  return color ? { bold: sgr("1"), dim: sgr("2"), yellow: sgr("33"), red: sgr("31") } : { bold: plain, dim: plain, yellow: plain, red: plain };
}

/** `s` without ANSI SGR sequences (for measuring). */
export function stripAnsi(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\x1b\[[0-9;]*m/g, "");
}
