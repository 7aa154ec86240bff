/**
 * JSON for CLI output: bigints as `0x…` strings, byte arrays as hex, dates as ISO strings.
 *
 * @module
 */

import { toHex } from "../core/bytes.js";

/** A JSON.stringify replacer for kimage values. */
export function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return `0x${value.toString(16)}`;
  if (value instanceof Uint8Array) return toHex(value);
  return value;
}

/** `JSON.stringify` with {@link jsonReplacer}, indented. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, jsonReplacer, 2);
}
