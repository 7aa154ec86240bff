/**
 * kimage: Linux kernel images as layers, signatures and placement plans.
 * This entry point is browser-safe: it imports nothing from `node:`.
 * Node-only helpers (file reading, node:crypto hashing) are in `kimage/node`.
 *
 * @example
 * ```ts
 * import { inspect, authenticodeDigest } from "kimage";
 * const { layers } = await inspect(bytes);
 * const { hex } = await authenticodeDigest(bytes, "sha256");
 * ```
 *
 * @module
 */

export * from "./errors.js";
export { ByteView, toHex, hex, toSafeNumber } from "./bytes.js";
export * from "./hash/index.js";
export * from "./formats/types.js";
export { FORMATS, inspect, probeFormat, type InspectOptions, type InspectResult } from "./formats/table.js";
export * from "./pecoff/spec.js";
export { parsePe, probePe, sectionByName, sectionData, PE_LAYER, type PeFile, type Section, type NamedDataDirectory, type ParsePeOptions } from "./pecoff/parse.js";
export { parseCertificateTable, type CertificateTable, type WinCertificate } from "./pecoff/certificates.js";
export * from "./pecoff/authenticode.js";
export { parseSbat, type SbatEntry, MAX_SBAT_ENTRIES, MAX_SBAT_BYTES } from "./pecoff/sbat.js";
export { classifyStub, type StubKind } from "./pecoff/stub.js";
export { peFormat, peLayer, describeCertificate } from "./pecoff/format.js";
export * from "./signature/pkcs7-info.js";
export * from "./codecs/types.js";
