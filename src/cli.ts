#!/usr/bin/env node
/**
 * The `kimage` command line: one module per command under `src/cli/`.
 *
 * Conventions (as git, readelf and coreutils): `kimage --help`, `kimage
 * help CMD` and `kimage CMD --help` (all within 80 columns); `-V`/`--version`;
 * a usage error prints the command's usage and exits 2; a FILE of `-` is
 * standard input and `-o -` standard output; `inspect`, `digest` and
 * `verify` take several FILEs.
 *
 * Exit status: 0 on success, 1 when the input is invalid (or, for `verify`,
 * not trusted and valid), 2 for usage errors, an unreadable input or an
 * unwritable output; with several FILEs the highest of them. Errors go to
 * stderr as one line: `kimage: <code> [<layer> @ 0x<offset>]: <message>`.
 * A closed pipe on standard output (EPIPE) ends the process silently with
 * status 141, as SIGPIPE would.
 *
 * @module
 */

import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { digestCommand } from "./cli/digest.js";
import { extractCommand } from "./cli/extract.js";
import { inspectCommand } from "./cli/inspect.js";
import { planCommand } from "./cli/plan.js";
import { pcr11Command } from "./cli/pcr11.js";
import { signCommand } from "./cli/sign.js";
import { ukiCommand } from "./cli/uki.js";
import { verifyCommand } from "./cli/verify.js";
import { shouldColor } from "./cli/colour.js";
import { createProgressBar, type ProgressBar } from "./cli/progress.js";
import { writeStdout } from "./node/stdio.js";
import { errnoText } from "./cli/io.js";
import { commandHelp, globalHelp, usageLines } from "./cli/usage.js";
import { UnreadableError, UnwritableError, UsageError, type CliIo, type Command } from "./cli/types.js";
import { isKimageError } from "./core/errors.js";

export type { CliIo } from "./cli/types.js";
export { layerJson, renderTree } from "./cli/render.js";

/** The package version, kept in step with package.json by a test. */
export const VERSION = "0.1.0";

/** The commands, in the order `--help` lists them. */
export const COMMANDS: readonly Command[] = [inspectCommand, digestCommand, verifyCommand, extractCommand, planCommand, signCommand, pcr11Command, ukiCommand];

/** `kimage --help`. */
export function usage(): string {
  return globalHelp(COMMANDS);
}

/** The short usage printed with an unknown command or option. */
function shortUsage(): string {
  return [
    "usage: kimage COMMAND [OPTION...] [FILE...]",
    `commands: ${COMMANDS.map((c) => c.name).join(", ")}`,
    "Try 'kimage --help' for more information.",
  ].join("\n");
}

/** node:util parseArgs errors, as one short sentence. */
export function parseArgsMessage(e: unknown): string {
  const err = e as { code?: string; message?: string };
  const msg = err.message ?? String(e);
  const opt = /'(-[^' ]*)(?:, (--[^' ]+))?/.exec(msg);
  const name = opt?.[2] ?? opt?.[1];
  switch (err.code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `unknown option ${name ?? msg}`;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      if (name && /does not take an argument/.test(msg)) return `option ${name} takes no value`;
      if (name && /argument missing/.test(msg)) return `option ${name} needs a value`;
      if (name && /ambiguous/.test(msg)) return `option ${name} needs a value (to give one that starts with -, write ${name}=VALUE)`;
      return msg.split(". ")[0] ?? msg;
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return `unexpected argument ${/'([^']*)'/.exec(msg)?.[1] ?? ""}`.trim();
    default:
      return msg.split(". ")[0] ?? msg;
  }
}

/**
 * Runs the CLI with `argv` (without the node and script paths) and returns
 * the exit status. Never throws for bad input or usage.
 */
export async function main(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    io.err(usage());
    return 2;
  }
  if (first === "--help" || first === "-h") {
    io.out(usage());
    return 0;
  }
  if (first === "--version" || first === "-V" || first === "-v") {
    io.out(VERSION);
    return 0;
  }
  if (first === "help") {
    if (rest.length === 0) {
      io.out(usage());
      return 0;
    }
    const c = COMMANDS.find((x) => x.name === rest[0]);
    if (!c || rest.length > 1) {
      io.err(`kimage: help: ${c ? `unexpected argument ${JSON.stringify(rest[1])}` : `no command ${JSON.stringify(rest[0])}`}\n${shortUsage()}`);
      return 2;
    }
    io.out(commandHelp(c));
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === first);
  if (!command) {
    io.err(`kimage: ${first.startsWith("-") ? `unknown option ${first}` : `unknown command ${JSON.stringify(first)}`}\n${shortUsage()}`);
    return 2;
  }
  try {
    let parsed;
    try {
      parsed = parseArgs({
        args: [...rest],
        allowPositionals: true,
        strict: true,
        options: { ...command.options, help: { type: "boolean", short: "h" }, quiet: { type: "boolean", short: "q" } },
      });
    } catch (e) {
      throw new UsageError(parseArgsMessage(e));
    }
    if (parsed.values.help) {
      io.out(commandHelp(command));
      return 0;
    }
    const spec = command.positionals;
    const variadic = spec.at(-1)?.endsWith("...") ?? false;
    const required = spec.filter((p) => !p.startsWith("[")).length;
    if (parsed.positionals.length < required) throw new UsageError(`missing ${String(spec[parsed.positionals.length]).replace(/\.\.\.$/, "")}`);
    if (!variadic && parsed.positionals.length > spec.length) throw new UsageError(`unexpected argument ${JSON.stringify(parsed.positionals[spec.length])}`);
    const { quiet, help: _help, ...values } = parsed.values as Record<string, string | boolean | string[] | undefined>;
    const bar = io === defaultIo ? stderrProgressBar(Boolean(quiet)) : undefined;
    const runIo = bar?.enabled ? progressIo(io, bar) : io;
    try {
      return await command.run({ io: runIo, values, positionals: parsed.positionals });
    } finally {
      bar?.end();
    }
  } catch (e) {
    if (e instanceof UsageError) {
      const msg = e.message.startsWith(`${command.name}: `) ? e.message : `${command.name}: ${e.message}`;
      io.err([`kimage: ${msg}`, ...usageLines(command), `Try 'kimage ${command.name} --help' for more information.`].join("\n"));
      return 2;
    }
    if (e instanceof UnwritableError && e.code === "EPIPE") return 141;
    if (e instanceof UnreadableError || e instanceof UnwritableError) {
      io.err(`kimage: ${e.message}`);
      return 2;
    }
    if (isKimageError(e)) {
      io.err(`kimage: ${e.toLine()}`);
      return 1;
    }
    throw e;
  }
}

const defaultIo: CliIo = {
  out: (s) => process.stdout.write(s + "\n"),
  err: (s) => process.stderr.write(s + "\n"),
  write: writeStdout,
  get color() {
    return shouldColor(process.stdout, process.env);
  },
};

/** The progress bar on standard error (drawn only on a terminal, see progress.ts). */
function stderrProgressBar(quiet: boolean): ProgressBar {
  // KIMAGE_PROGRESS_DELAY_MS: for tests only, to see the bar on quick work.
  const delay = Number(process.env.KIMAGE_PROGRESS_DELAY_MS);
  return createProgressBar({ stream: process.stderr, env: process.env, quiet, ...(Number.isFinite(delay) && process.env.KIMAGE_PROGRESS_DELAY_MS ? { delayMs: delay } : {}) });
}

/** `io` with progress going to `bar`, and the bar's line erased before any other output on the terminal. */
function progressIo(io: CliIo, bar: ProgressBar): CliIo {
  return {
    out: (s) => {
      bar.clear();
      io.out(s);
    },
    err: (s) => {
      bar.clear();
      io.err(s);
    },
    write: (bytes) => {
      bar.clear();
      return (io.write ?? writeStdout)(bytes);
    },
    get color() {
      return io.color;
    },
    progress: bar.update,
  };
}

/** The exit status for a failed write to standard output, after reporting it (EPIPE: silently, 141 as SIGPIPE). */
export function outputErrorStatus(e: NodeJS.ErrnoException, err: (s: string) => void): number {
  if (e.code === "EPIPE") return 141;
  err(`kimage: cannot write standard output: ${errnoText(e)}`);
  return 2;
}

function isEntryPoint(): boolean {
  const argv1 = process.argv[1];
  if (!argv1) return false;
  try {
    return realpathSync(argv1) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  // A closed pipe or a full disk on standard output: one line (none for
  // EPIPE) and exit, never an unhandled 'error' event's stack trace.
  process.stdout.on("error", (e: NodeJS.ErrnoException) => process.exit(outputErrorStatus(e, (s) => process.stderr.write(s + "\n"))));
  process.stderr.on("error", () => undefined);
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`kimage: internal error: ${(e as Error).stack ?? String(e)}\n`);
      process.exitCode = 70;
    },
  );
}
