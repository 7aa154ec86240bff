/**
 * Commands that take several FILEs (`inspect`, `digest`, `verify`): one
 * result per file, in the order given, and the highest exit status of any.
 *
 * - Text: each file's result as it is ready; blocks of several lines are
 *   separated by a blank line and start with the file's name.
 * - `--json` with one FILE: the command's JSON document, exactly as before.
 * - `--json` with several: one JSON array (2-space indented), an element per
 *   FILE in order: the single-file document with `"file"` first, or
 *   `{"file", "error": {"code", "layer", "offset", "message"}}` for a file
 *   that failed (its one-line error also goes to stderr).
 *
 * @module
 */

import { isKimageError } from "../core/errors.js";
import { toJson } from "./json.js";
import { UnreadableError, type CliIo } from "./types.js";

/** What one file gave. */
export interface FileOutcome {
  /** The exit status for this file (0 or 1; failures are thrown). */
  status: number;
  /** Text for people, written as is (without a trailing newline). */
  text?: string;
  /** The single-file JSON document. */
  json?: Record<string, unknown>;
}

/** How {@link eachFile} prints. */
export interface EachFileOptions {
  /** `--json` was given. */
  json: boolean;
  /** Serialises the single-file JSON document (as the command always did). */
  stringify(doc: Record<string, unknown>): string;
  /** Separate several files' text by a blank line. */
  blankLine: boolean;
}

/**
 * Runs `one` for every file; a file that is invalid (KimageError, status 1)
 * or unreadable (status 2) is reported on stderr, one line naming the file
 * when there are several, and the others still run. Other errors propagate.
 */
export async function eachFile(io: CliIo, files: readonly string[], opts: EachFileOptions, one: (file: string, multi: boolean) => Promise<FileOutcome>): Promise<number> {
  const multi = files.length > 1;
  const docs: Record<string, unknown>[] = [];
  let status = 0;
  let printed = false;
  for (const file of files) {
    let r: FileOutcome;
    try {
      r = await one(file, multi);
    } catch (e) {
      let error: Record<string, unknown>;
      if (isKimageError(e)) {
        io.err(`kimage: ${multi ? `${file}: ` : ""}${e.toLine()}`);
        status = Math.max(status, 1);
        error = e.toJSON();
      } else if (e instanceof UnreadableError) {
        io.err(`kimage: ${e.message}`);
        status = Math.max(status, 2);
        error = { code: "unreadable", message: e.message };
      } else {
        throw e;
      }
      docs.push({ file, error });
      continue;
    }
    status = Math.max(status, r.status);
    if (opts.json) {
      if (!multi && r.json) io.out(opts.stringify(r.json));
      docs.push({ file, ...r.json });
    } else if (r.text !== undefined) {
      if (printed && opts.blankLine) io.out("");
      io.out(r.text);
      printed = true;
    }
  }
  if (opts.json && multi) io.out(toJson(docs));
  return status;
}
