/**
 * The flattened devicetree (DTB) codec: parse, edit, serialize.
 *
 * @module
 */

export * from "./spec.js";
export { parseFdt, parseFdtHeader, type FdtHeader } from "./parse.js";
export { serializeFdt, encodeFdtBlocks, type SerializeOptions, type FdtBlocks } from "./serialize.js";
export * from "./tree.js";
