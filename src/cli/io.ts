/**
 * File input and output for CLI commands: `-` is standard input (as FILE)
 * or standard output (as `-o -`). An unreadable input or unwritable output
 * is a usage-level failure (exit status 2), not invalid input.
 *
 * @module
 */

import { readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { readStdin, writeStdout } from "../node/stdio.js";
import type { ProgressSink } from "./progress.js";
import { UnreadableError, UnwritableError, type CliIo } from "./types.js";

/** How an errno error reads in a one-line message: `ENOENT`, or the message. */
export function errnoText(e: unknown): string {
  const { code, message } = e as NodeJS.ErrnoException;
  if (!code) return message;
  // Node's messages read "ENOSPC: no space left on device, write": keep the description.
  const what = new RegExp(`^${code}: ([^,]+)`).exec(message ?? "")?.[1];
  return what ? `${code} (${what})` : code;
}

/**
 * Reads a whole file in one synchronous call (a view of the Buffer, no copy).
 * The CLI reads one file at a time and has nothing else to do meanwhile, so
 * the chunked asynchronous read (fs.promises.readFile: 512 kB reads, each a
 * trip through the thread pool and the event loop) only adds idle time:
 * 49 ms of a 216 ms `verify` on a 48.7 MB kernel (issue 12).
 */
export function readFileWhole(path: string): Uint8Array {
  const b = readFileSync(path);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * Reads a whole input file, or standard input for `-`; throws
 * {@link UnreadableError} when it cannot be read. Reports a `read` progress
 * event with the size read, when `progress` is given.
 */
export async function readInput(path: string, progress?: ProgressSink): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = path === "-" ? await readStdin() : readFileWhole(path);
  } catch (e) {
    throw new UnreadableError(`cannot read ${path === "-" ? "standard input" : path}: ${errnoText(e)}`);
  }
  progress?.({ phase: "read", done: bytes.length, total: bytes.length });
  return bytes;
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
