/**
 * File input for CLI commands: an unreadable file is a usage-level failure
 * (exit status 2), not invalid input.
 *
 * @module
 */

import { readImage } from "../node/index.js";
import { UnreadableError } from "./types.js";

/** Reads a whole input file; throws {@link UnreadableError} when it cannot be read. */
export async function readInput(path: string): Promise<Uint8Array> {
  try {
    return await readImage(path);
  } catch (e) {
    throw new UnreadableError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}
