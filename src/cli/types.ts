/**
 * The shape of a CLI command: its options (for node:util parseArgs), how many
 * positionals it takes, and a `run` that returns the exit status.
 *
 * @module
 */

import type { ParseArgsConfig } from "node:util";

/** Where the CLI writes; injectable for tests. */
export interface CliIo {
  out(s: string): void;
  err(s: string): void;
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
  /** One usage line (without "kimage "). */
  usage: string;
  /** One-line description. */
  summary: string;
  options: NonNullable<ParseArgsConfig["options"]>;
  /** Positional names, in order; a trailing "..." name takes any number. */
  positionals: string[];
  /** Runs the command; returns the exit status. KimageError → 1 and UsageError → 2 are handled by the caller. */
  run(ctx: CliContext): Promise<number>;
}

/** A usage error: exit status 2. */
export class UsageError extends Error {}

/** An input file that cannot be read: exit status 2. */
export class UnreadableError extends Error {}
