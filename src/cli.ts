#!/usr/bin/env node
/**
 * The `kimage` command line: one module per command under `src/cli/`.
 *
 * Exit status: 0 on success, 1 when the input is invalid (or, for `verify`,
 * not trusted and valid), 2 for usage errors or an unreadable file. Errors
 * go to stderr as one line: `kimage: <code> [<layer> @ 0x<offset>]: <message>`.
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
import { signCommand } from "./cli/sign.js";
import { verifyCommand } from "./cli/verify.js";
import { UnreadableError, UsageError, type CliIo, type Command } from "./cli/types.js";
import { isKimageError } from "./core/errors.js";

export type { CliIo } from "./cli/types.js";
export { layerJson, renderTree } from "./cli/render.js";

/** The package version, kept in step with package.json by a test. */
export const VERSION = "0.1.0";

/** The commands, in the order `--help` lists them. */
export const COMMANDS: readonly Command[] = [inspectCommand, digestCommand, verifyCommand, extractCommand, planCommand, signCommand];

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.usage.length));
  return [
    "usage:",
    ...COMMANDS.map((c) => `  kimage ${c.usage.padEnd(width)}  ${c.summary}`),
    "  kimage --help | --version",
    "",
    "exit status: 0 success, 1 invalid input (verify: not valid and trusted), 2 usage error or unreadable file",
  ].join("\n");
}

/**
 * Runs the CLI with `argv` (without the node and script paths) and returns
 * the exit status. Never throws for bad input or usage.
 */
export async function main(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === "--help" || first === "-h") {
    (first === undefined ? io.err : io.out)(usage());
    return first === undefined ? 2 : 0;
  }
  if (first === "--version") {
    io.out(VERSION);
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === first);
  try {
    if (!command) throw new UsageError(`unknown command ${JSON.stringify(first)}`);
    let parsed;
    try {
      parsed = parseArgs({ args: rest, allowPositionals: true, strict: true, options: { ...command.options, help: { type: "boolean", short: "h" } } });
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    if (parsed.values.help) {
      io.out(`usage: kimage ${command.usage}\n${command.summary}`);
      return 0;
    }
    const variadic = command.positionals.at(-1)?.endsWith("...") ?? false;
    const required = command.positionals.filter((p) => !p.startsWith("[") && !p.endsWith("...")).length;
    if (parsed.positionals.length < required) throw new UsageError(`${command.name}: missing ${command.positionals[parsed.positionals.length]}`);
    if (!variadic && parsed.positionals.length > command.positionals.length) {
      throw new UsageError(`${command.name}: unexpected argument ${JSON.stringify(parsed.positionals[command.positionals.length])}`);
    }
    return await command.run({ io, values: parsed.values as Record<string, string | boolean | string[] | undefined>, positionals: parsed.positionals });
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`kimage: ${e.message}\n${usage()}`);
      return 2;
    }
    if (e instanceof UnreadableError) {
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
};

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
