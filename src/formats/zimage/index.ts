/**
 * arm32 zImage: the decompressor header, its extension table and the
 * compressed kernel; and the stream-locating helpers shared with the
 * bzImage and s390 layers.
 *
 * @module
 */

export * from "../../codecs/streams.js";
export * from "./format.js";
