/**
 * The shape of a CLI command: its options (for node:util parseArgs), how many
 * positionals it takes, and a `run` that returns the exit status.
 *
 * @module
 */

import type { ParseArgsConfig } from "node:util";
import type { ProgressSink } from "./progress.js";

/** Where the CLI writes; injectable for tests. */
export interface CliIo {
  /** Writes one line (a newline is added) to standard output. */
  out(s: string): void;
  /** Writes one line (a newline is added) to standard error. */
  err(s: string): void;
  /** Writes bytes as they are to standard output (`-o -`); defaults to process.stdout. */
  write?(bytes: Uint8Array): Promise<void>;
  /** Whether standard output may carry ANSI colours (a terminal, NO_COLOR unset); default false. */
  color?: boolean;
  /**
   * Receives progress events (the library's `onProgress` and the CLI's own
   * steps); the CLI draws them as a bar on standard error (see progress.ts).
   * Absent: no progress is reported.
   */
  progress?: ProgressSink;
}

/** What a command's `run` receives. */
export interface CliContext {
  io: CliIo;
  /** Parsed option values (strings, booleans, string arrays for `multiple`). */
  values: Record<string, string | boolean | string[] | undefined>;
  /** Positionals after the command name. */
  positionals: string[];
}

/** One `kimage` sub-command. */
export interface Command {
  name: string;
  /** One usage line (without "kimage "); `kimage CMD --help` wraps it to 80 columns. */
  usage: string;
  /** One-line description. */
  summary: string;
  options: NonNullable<ParseArgsConfig["options"]>;
  /**
   * Positional names, in order. A name ending in "..." takes one or more
   * (zero or more when it is bracketed, "[FILE...]"); a bracketed name is optional.
   */
  positionals: string[];
  /** Per-option help for `kimage CMD --help`, by option name (options without one are listed bare). */
  optionHelp?: Readonly<Record<string, string>>;
  /** Value placeholders for options the usage line does not show (`time` → `DATE`); others come from the usage line. */
  placeholders?: Readonly<Record<string, string>>;
  /** Paragraphs shown after the options in `kimage CMD --help`. */
  notes?: readonly string[];
  /** Runs the command; returns the exit status. KimageError → 1 and UsageError → 2 are handled by the caller. */
  run(ctx: CliContext): Promise<number>;
}

/** A usage error: exit status 2, with the command's usage. */
export class UsageError extends Error {}

/** An input file that cannot be read or used (e.g. `--cert` that is no certificate): exit status 2. */
export class UnreadableError extends Error {}

/** An output that cannot be written (`-o OUT`, standard output): exit status 2 (141, silently, for EPIPE). */
export class UnwritableError extends Error {
  /** The errno code (`ENOSPC`, `EPIPE`…), when known. */
  readonly code: string | undefined;
  constructor(message: string, code?: string) {
    super(message);
    this.code = code;
  }
}
