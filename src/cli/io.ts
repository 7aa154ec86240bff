/**
 * File input and output for CLI commands: `-` is standard input (as FILE)
 * or standard output (as `-o -`). An unreadable input or unwritable output
 * is a usage-level failure (exit status 2), not invalid input.
 *
 * @module
 */

import { writeFile } from "node:fs/promises";
import { readImage } from "../node/index.js";
import { readStdin, writeStdout } from "../node/stdio.js";
import { UnreadableError, UnwritableError, type CliIo } from "./types.js";

/** How an errno error reads in a one-line message: `ENOENT`, or the message. */
export function errnoText(e: unknown): string {
  const { code, message } = e as NodeJS.ErrnoException;
  if (!code) return message;
  // Node's messages read "ENOSPC: no space left on device, write": keep the description.
  const what = new RegExp(`^${code}: ([^,]+)`).exec(message ?? "")?.[1];
  return what ? `${code} (${what})` : code;
}

/** Reads a whole input file, or standard input for `-`; throws {@link UnreadableError} when it cannot be read. */
export async function readInput(path: string): Promise<Uint8Array> {
  try {
    return path === "-" ? await readStdin() : await readImage(path);
  } catch (e) {
    throw new UnreadableError(`cannot read ${path === "-" ? "standard input" : path}: ${errnoText(e)}`);
  }
}

/** How an output path is named in messages. */
export function outputName(path: string): string {
  return path === "-" ? "standard output" : path;
}

/** Writes `bytes` to the file `path`, or to standard output for `-`; throws {@link UnwritableError} when it cannot. */
export async function writeOutput(path: string, bytes: Uint8Array, io: CliIo): Promise<void> {
  try {
    if (path === "-") await (io.write ?? writeStdout)(bytes);
    else await writeFile(path, bytes);
  } catch (e) {
    throw new UnwritableError(`cannot write ${outputName(path)}: ${errnoText(e)}`, (e as NodeJS.ErrnoException).code);
  }
}
