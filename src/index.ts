/**
 * kimage: Linux kernel images as layers, signatures and placement plans.
 *
 * This entry point is the curated API for loader and tool authors, grouped
 * below as the README presents it: errors, hashing, inspection and identity,
 * the formats, Authenticode, verification and signing, codecs, device trees,
 * memory maps, plans and the purgatory digest. It is browser-safe: it imports
 * nothing from `node:`. Node helpers (file reading, node:crypto, node:zlib)
 * are in `kimage/node`; the lower-level pieces (spec constants, per-format
 * internals, protocol builders) are in `kimage/internals`, with no stability
 * promise. `test/interfaces/api.test.ts` holds the list of these exports, so
 * the API changes only on purpose.
 *
 * @example
 * ```ts
 * import { inspect, kernelIdentity, authenticodeDigest } from "kimage";
 * const result = await inspect(bytes);
 * console.log(result.layers.map((l) => l.format).join(" → "), (await kernelIdentity(result)).version);
 * const { hex } = await authenticodeDigest(bytes, "sha256");
 * ```
 *
 * @module kimage
 */

// Errors: every failure caused by input is a KimageError with a stable code, the layer and the byte offset.
export { KimageError, isKimageError, ERROR_CODES, type ErrorCode, type KimageErrorOptions, type Finding } from "./core/errors.js";
export { toHex } from "./core/bytes.js";

// Hashing: host-provided (WebCrypto, node:crypto in kimage/node) or pure JS.
export { defaultHashProvider } from "./hash/index.js";
export { webCryptoHashProvider } from "./hash/webcrypto.js";
export { pureJsHashProvider } from "./hash/purejs.js";
export { HASH_ALGORITHMS, isHashAlgorithm, type HashAlgorithm, type HashProvider } from "./hash/types.js";
export type { WebCryptoKey, SubtleSigner } from "./hash/webcrypto-types.js";

// Inspection: the layer walk, the probe table, typed layers, kernel identity.
export { inspect, probeFormat, FORMATS, findLayer, type InspectOptions, type InspectResult, type FoundLayer } from "./inspect/registry.js";
export { layerHeader } from "./format/layer.js";
export type { FormatModule, Layer, LayerPayload, ParseContext, JsonValue, Progress, ProgressCallback } from "./format/types.js";
export { kernelIdentity, type KernelIdentity, type IdentityOptions } from "./inspect/identity.js";

// Formats: one module, parser and header type each.
export { peFormat } from "./formats/pe/format.js";
export { parsePe, sectionByName, sectionData, type PeFile, type Section } from "./formats/pe/parse.js";
export { parseCertificateTable, type CertificateTable, type WinCertificate } from "./formats/pe/certificates.js";
export { parseSbat, type SbatEntry } from "./formats/pe/sbat.js";
export { peChecksum, writePeChecksum } from "./formats/pe/checksum.js";
export { zbootFormat } from "./formats/zboot/format.js";
export { parseZbootHeader, type ZbootHeader } from "./formats/zboot/header.js";
export { arm64ImageFormat, parseArm64Header, type Arm64Header } from "./formats/arm64/image.js";
export { riscvImageFormat, parseRiscvHeader, type RiscvHeader } from "./formats/riscv/image.js";
export { loongarchImageFormat, parseLoongarchHeader, type LoongarchHeader } from "./formats/loongarch/image.js";
export { bzImageFormat, parseBzImage, type BzImage } from "./formats/bzimage/format.js";
export type { SetupHeader } from "./formats/bzimage/header.js";
export { elfFormat } from "./formats/elf/format.js";
export { parseElf, type ElfFile } from "./formats/elf/parse.js";
export { zImageFormat, parseZImage, type ZImage } from "./formats/zimage/format.js";
export { s390ImageFormat, parseS390Image, type S390Image } from "./formats/s390/format.js";

// Authenticode: the digest as pesign and the kernel compute it, and what a signature says.
export { authenticodeDigest, authenticodeRanges, type AuthenticodeDigest, type AuthenticodeDigestOptions, type AuthenticodeRange } from "./formats/pe/authenticode.js";
export { readAuthenticodeInfo, type AuthenticodeInfo, type SignerSummary, type CertificateInfo } from "./cms/pkcs7-info.js";

// Verification in the kernel's order, with verdicts and reasons.
export { verifyAuthenticode, verifyChain, type AuthenticodeVerdict, type SignatureVerdict, type ChainVerdict, type VerifyChainOptions } from "./signature/verify.js";
export { VERDICT_REASONS, parseSbatLevel, type Verdict, type VerdictReason, type VerifyOptions, type PolicyMode, type DenyList } from "./signature/policy.js";
export { verifyAppendedSignature, parseAppendedSignature, type AppendedSignature, type AppendedVerdict } from "./signature/appended.js";
export { parseEfiSignatureLists, efiSignatureDatabase, type EfiSignatureList, type EfiSignatureDatabase } from "./signature/efi-siglist.js";
export { parseShimVendorCert, type ShimVendorCert } from "./signature/shim.js";
export { parseCertificate, type ParsedCertificate } from "./cms/certificate.js";
export { parseTrustAnchors } from "./signature/trust.js";

// Signing.
export { signAuthenticode, type SignAuthenticodeOptions, type AuthenticodeSignMode, type AuthenticodeSignAlgorithm } from "./signature/sign.js";
export { signAppended, type SignAppendedOptions, type AppendedSignAlgorithm } from "./signature/sign-appended.js";
export { importSigningKey, readCertificates, type SigningKeyInput, type CertificateInput } from "./signature/keys.js";

// Codecs: one-shot and streaming, bounded, with typed errors.
export { decompress, decompressSync, detectCodec, type CodecProviders, type DispatchOptions } from "./codecs/index.js";
export { CODECS, DEFAULT_MAX_OUTPUT, type Codec, type DecompressOptions, type DecompressResult } from "./codecs/types.js";
export { createStreamDecoder, decodeStream, decodeTransformStream, streamingCodecs, type StreamDecoder, type StreamDecodeOptions, type StreamSummary, type StreamSink } from "./codecs/stream.js";

// Device trees: parse, edit, serialize (byte-exact round trip).
export { parseFdt } from "./fdt/parse.js";
export { serializeFdt } from "./fdt/serialize.js";
export { createFdt, findNode, ensureNode, getProp, setProp, deleteProp, getString, setString, getU32, setU32 } from "./fdt/tree.js";
export type { Fdt, FdtNode, FdtProperty } from "./fdt/spec.js";

// Memory maps and the allocator (kexec_locate_mem_hole semantics).
export { memoryMap, checkSegments, type MemoryMap, type MemoryRegion, type MemoryType, type Range, type Segment } from "./plan/core/memory.js";
export { memoryMapFromFdt, memoryMapFromIomem, memoryMapFromE820, memoryMapFromCli, type E820Entry } from "./plan/core/memory-parse.js";
export { locateMemHole, type HoleRequest, type Hole } from "./plan/core/allocator.js";
export type { Seed } from "./plan/core/random.js";

// Plans: one row per architecture; normal and crash-kernel plans.
export { PLAN_TABLE, planTableRow, type Plan, type PlanArch, type PlanRequest, type PlanTableRow } from "./plan/table.js";
export type { EntryState } from "./plan/core/types.js";
export type { CrashInput } from "./plan/protocol/kdump.js";
export type { CoreNoteRange } from "./plan/protocol/elfcore.js";
export { planArm64, type Arm64PlanInput, type Arm64Plan } from "./plan/arch/arm64.js";
export { planRiscv, type RiscvPlanInput, type RiscvPlan } from "./plan/arch/riscv.js";
export { planX86_64, type X86PlanInput, type X86Plan } from "./plan/arch/x86.js";
export { planX86_64Crash, type X86CrashInput } from "./plan/arch/x86-crash.js";
export { planElf, type ElfPlanInput, type ElfPlan } from "./plan/arch/elf.js";
export { buildKexecDtb } from "./plan/protocol/chosen.js";
export { innermostImage, type UnwrappedImage } from "./plan/core/unwrap.js";

// The purgatory digest: what a purgatory checks in memory before it jumps.
export { planDigest, verifyPlanDigest, type PlanDigest, type DigestRegion, type DigestOptions, type MemoryReader, type DigestVerification } from "./plan/core/digest.js";
