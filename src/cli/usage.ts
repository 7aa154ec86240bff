/**
 * Usage and help text, generated from the {@link Command} descriptions and
 * wrapped to 80 columns: `kimage --help`, `kimage help CMD`, `kimage CMD
 * --help`, and the usage printed with a usage error.
 *
 * @module
 */

import type { Command } from "./types.js";

/** The width every help text fits in. */
export const HELP_WIDTH = 80;

/** Splits `s` at spaces outside brackets deeper than `depth`. */
function splitAtDepth(s: string, depth: number, before?: RegExp): string[] {
  const out: string[] = [];
  let level = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === "[" || c === "(") level++;
    else if (c === "]" || c === ")") level--;
    else if (c === " " && level <= depth && (!before || before.test(s.slice(i + 1)))) {
      if (i > start) out.push(s.slice(start, i));
      start = i + 1;
    }
  }
  if (start < s.length) out.push(s.slice(start));
  return out;
}

/**
 * Fills words into lines of at most `width` columns: the first line starts
 * with `first`, the others with `indent` spaces. A word that does not fit
 * on a line of its own is split by `split` (if given) and the parts filled in.
 */
function fill(words: readonly string[], first: string, indent: number, width: number, split?: (w: string) => string[]): string[] {
  const lines: string[] = [];
  let line = first;
  let fresh = true; // nothing but the prefix on `line`
  const place = (w: string): void => {
    const sep = fresh ? "" : " ";
    if (line.length + sep.length + w.length <= width) {
      line += sep + w;
      fresh = false;
      return;
    }
    const room = width - indent;
    if (w.length > room && split) {
      const parts = split(w);
      if (parts.length > 1) {
        for (const p of parts) place(p);
        return;
      }
    }
    if (!fresh) {
      lines.push(line);
      line = " ".repeat(indent);
    }
    line += w;
    fresh = false;
  };
  for (const w of words) place(w);
  lines.push(line);
  return lines;
}

/** A usage synopsis wrapped at bracket groups: `usage: kimage CMD …` with aligned continuation lines. */
export function usageLines(command: Command, width = HELP_WIDTH): string[] {
  const prefix = `usage: kimage ${command.name} `;
  const rest = command.usage.startsWith(command.name + " ") ? command.usage.slice(command.name.length + 1) : command.usage;
  // Break between top-level groups; a group too long for a line breaks
  // before its inner options, then at any space.
  const split = (w: string): string[] => {
    const inner = splitAtDepth(w, 1, /^[-[]/);
    return inner.length > 1 ? inner : w.split(" ");
  };
  return fill(splitAtDepth(rest, 0), prefix, prefix.length, width, split);
}

/** Wraps prose to `width` columns with a hanging indent. */
export function wrapText(text: string, first: string, indent: number, width = HELP_WIDTH): string[] {
  return fill(text.split(/\s+/).filter(Boolean), first, indent, width, (w) => [w]);
}

/** The placeholder of an option's value, as the usage line names it (`--kernel FILE` → `FILE`). */
function placeholder(command: Command, name: string, short: string | undefined): string {
  const given = command.placeholders?.[name];
  if (given) return given;
  for (const flag of [`--${name}`, ...(short ? [`-${short}`] : [])]) {
    const m = new RegExp(`(?:^|[\\s[|])${flag.replace(/[-]/g, "\\-")} ([^\\s\\]|-][^\\s\\]]*)`).exec(command.usage);
    if (m?.[1]) return m[1];
  }
  return name.toUpperCase().replace(/-/g, "_");
}

/** The options block of a command's help: one entry per option, help wrapped beside it. */
function optionLines(command: Command, width: number): string[] {
  const entries: Array<[string, string]> = Object.entries(command.options).map(([name, o]) => {
    const flags = `${o.short ? `-${o.short}, ` : ""}--${name}${o.type === "string" ? ` ${placeholder(command, name, o.short)}` : ""}`;
    const help = command.optionHelp?.[name] ?? "";
    const extra = [o.multiple ? "repeatable" : "", o.type === "string" && typeof o.default === "string" ? `default ${o.default}` : ""].filter(Boolean);
    return [flags, extra.length > 0 ? `${help}${help ? " " : ""}(${extra.join("; ")})` : help];
  });
  entries.push(["-q, --quiet", "no progress bar on standard error (one shows only on a terminal, when the work takes longer than 0.3 s and NO_COLOR is unset)"]);
  entries.push(["-h, --help", "show this help and exit"]);
  const col = Math.max(...entries.map(([f]) => f.length).filter((n) => n <= 26));
  const lines: string[] = [];
  for (const [flags, help] of entries) {
    const head = `  ${flags}`;
    if (!help) {
      lines.push(head);
    } else if (flags.length <= col) {
      lines.push(...wrapText(help, head.padEnd(col + 4), col + 4, width));
    } else {
      lines.push(head, ...wrapText(help, " ".repeat(col + 4), col + 4, width));
    }
  }
  return lines;
}

/** `kimage CMD --help`: the usage, the summary, the options and the notes, within `width` columns. */
export function commandHelp(command: Command, width = HELP_WIDTH): string {
  const lines = [...usageLines(command, width), "", ...wrapText(command.summary, "", 0, width), "", "options:", ...optionLines(command, width)];
  for (const note of command.notes ?? []) lines.push("", ...wrapText(note, "", 0, width));
  return lines.join("\n");
}

/** The exit statuses, as `--help` states them. */
export const EXIT_STATUS: readonly string[] = [
  "exit status:",
  "  0    success",
  "  1    invalid input (verify: a verdict other than valid)",
  "  2    usage error, unreadable input or unwritable output",
  "  141  standard output closed early (EPIPE), as when killed by SIGPIPE",
  "With several FILEs, the highest status of any FILE.",
];

/** `kimage --help`: how to call, the commands with their summaries, within `width` columns. */
export function globalHelp(commands: readonly Command[], width = HELP_WIDTH): string {
  const col = Math.max(...commands.map((c) => c.name.length));
  return [
    "usage: kimage COMMAND [OPTION...] [FILE...]",
    "       kimage help [COMMAND]",
    "       kimage -h | --help | -V | --version",
    "",
    "Linux kernel images as layers, signatures and placement plans.",
    "",
    "commands:",
    ...commands.flatMap((c) => wrapText(c.summary, `  ${c.name.padEnd(col)}  `, col + 4, width)),
    "",
    ...wrapText("A FILE of - is standard input, and -o - writes to standard output. 'kimage help COMMAND' or 'kimage COMMAND --help' shows a command's options.", "", 0, width),
    "",
    ...EXIT_STATUS,
  ].join("\n");
}
