/**
 * s390 kernel image: IPL header, entry points, parmarea and the compressed
 * kernel.
 *
 * @module
 */

export * from "./format.js";
