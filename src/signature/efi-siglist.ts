/**
 * A bounded parser for UEFI signature databases: a sequence of
 * `EFI_SIGNATURE_LIST` structures (the format of the `db`, `dbx`, `KEK`
 * variables, of shim's `MokList` and of the vendor db/dbx built into shim's
 * `.vendor_cert` section).
 *
 * UEFI specification 2.10, section 32.4.1 "Signature Database":
 *
 * ```
 * typedef struct _EFI_SIGNATURE_DATA {
 *   EFI_GUID SignatureOwner;
 *   UINT8    SignatureData[...];
 * } EFI_SIGNATURE_DATA;
 *
 * typedef struct _EFI_SIGNATURE_LIST {
 *   EFI_GUID SignatureType;
 *   UINT32   SignatureListSize;
 *   UINT32   SignatureHeaderSize;
 *   UINT32   SignatureSize;
 *   // UINT8              SignatureHeader[SignatureHeaderSize];
 *   // EFI_SIGNATURE_DATA Signatures[...][SignatureSize];
 * } EFI_SIGNATURE_LIST;
 *
 * typedef struct _EFI_CERT_X509_SHA256 {
 *   EFI_SHA256_HASH ToBeSignedHash;
 *   EFI_TIME        TimeOfRevocation;
 * } EFI_CERT_X509_SHA256;   // likewise _SHA384, _SHA512
 * ```
 *
 * "SignatureListSize: Total size of the signature list, including this
 * header. ... SignatureSize: Size of each signature. Must be at least the
 * size of EFI_SIGNATURE_DATA." Every list is checked against these rules and
 * against the end of the buffer; the number of lists and of entries is
 * limited, so no input can make the parser loop or allocate without bound.
 *
 * @module
 */

import { ByteView, toHex } from "../core/bytes.js";
import { KimageError } from "../core/errors.js";
import type { HashAlgorithm } from "../hash/types.js";

/** Layer id used in errors raised by this parser. */
export const EFI_SIGLIST_LAYER = "efi-siglist";

/** Size of the fixed EFI_SIGNATURE_LIST header (GUID + 3 × UINT32). */
export const EFI_SIGNATURE_LIST_HEADER_SIZE = 28;
/** Size of an EFI_GUID. */
export const EFI_GUID_SIZE = 16;
/** Size of an EFI_TIME (in EFI_CERT_X509_SHA*). */
export const EFI_TIME_SIZE = 16;

/**
 * Signature types of the UEFI specification (section 32.4.1), by name, as
 * lowercase GUID strings.
 */
export const EFI_CERT_TYPES = {
  EFI_CERT_SHA256_GUID: "c1c41626-504c-4092-aca9-41f936934328",
  EFI_CERT_RSA2048_GUID: "3c5766e8-269c-4e34-aa14-ed776e85b3b6",
  EFI_CERT_RSA2048_SHA256_GUID: "e2b36190-879b-4a3d-ad8d-f2e7bba32784",
  EFI_CERT_SHA1_GUID: "826ca512-cf10-4ac9-b187-be01496631bd",
  EFI_CERT_RSA2048_SHA1_GUID: "67f8444f-8743-48f1-a328-1eaab8736080",
  EFI_CERT_X509_GUID: "a5c059a1-94e4-4aa7-87b5-ab155c2bf072",
  EFI_CERT_SHA224_GUID: "0b6e5233-a65c-44c9-9407-d9ab83bfc8bd",
  EFI_CERT_SHA384_GUID: "ff3e5307-9fd0-48c9-85f1-8ad56c701e01",
  EFI_CERT_SHA512_GUID: "093e0fae-a6c4-4f50-9f1b-d41e2b89c19a",
  EFI_CERT_X509_SHA256_GUID: "3bd2a492-96c0-4079-b420-fcf98ef103ed",
  EFI_CERT_X509_SHA384_GUID: "7076876e-80c2-4ee6-aad2-28b349a6865b",
  EFI_CERT_X509_SHA512_GUID: "446dbf63-2502-4cda-bcfa-2465d2b0fe9d",
  EFI_CERT_TYPE_PKCS7_GUID: "4aafd29d-68df-49ee-8aa9-347d375665a7",
} as const;

/** The name of a known signature type (a key of {@link EFI_CERT_TYPES}). */
export type EfiCertTypeName = keyof typeof EFI_CERT_TYPES;

const TYPE_BY_GUID: ReadonlyMap<string, EfiCertTypeName> = new Map(
  (Object.keys(EFI_CERT_TYPES) as EfiCertTypeName[]).map((k) => [EFI_CERT_TYPES[k], k] as const),
);

/** Image-hash signature types and their algorithms (the data is the digest). */
const IMAGE_HASH_TYPES: Partial<Record<EfiCertTypeName, HashAlgorithm>> = {
  EFI_CERT_SHA1_GUID: "sha1",
  EFI_CERT_SHA256_GUID: "sha256",
  EFI_CERT_SHA384_GUID: "sha384",
  EFI_CERT_SHA512_GUID: "sha512",
};

/** TBS-hash signature types and their algorithms (the data is digest + EFI_TIME). */
const TBS_HASH_TYPES: Partial<Record<EfiCertTypeName, "sha256" | "sha384" | "sha512">> = {
  EFI_CERT_X509_SHA256_GUID: "sha256",
  EFI_CERT_X509_SHA384_GUID: "sha384",
  EFI_CERT_X509_SHA512_GUID: "sha512",
};

const HASH_SIZES: Record<HashAlgorithm, number> = { sha1: 20, sha256: 32, sha384: 48, sha512: 64 };

/** One EFI_SIGNATURE_DATA. */
export interface EfiSignatureData {
  /** SignatureOwner as a lowercase GUID string. */
  owner: string;
  /** SignatureData (a view of the input, no copy). */
  data: Uint8Array;
  /** Absolute offset of the EFI_SIGNATURE_DATA (its owner GUID). */
  offset: number;
}

/** One EFI_SIGNATURE_LIST. */
export interface EfiSignatureList {
  /** Absolute offset of the list header. */
  offset: number;
  /** SignatureType as a lowercase GUID string. */
  signatureType: string;
  /** The type's name when known, e.g. `EFI_CERT_X509_GUID`. */
  typeName: EfiCertTypeName | undefined;
  signatureListSize: number;
  signatureHeaderSize: number;
  signatureSize: number;
  /** SignatureHeader (a view; empty for every type the specification defines). */
  header: Uint8Array;
  /** The signatures, in order. */
  signatures: EfiSignatureData[];
}

/** Limits and position options of {@link parseEfiSignatureLists}. */
export interface EfiSignatureListOptions {
  /** Absolute offset of `bytes[0]` in the outermost input (default 0). */
  base?: number;
  /** Most lists read (default 4096). */
  maxLists?: number;
  /** Most EFI_SIGNATURE_DATA entries read in total (default 65536). */
  maxEntries?: number;
}

/**
 * Formats an EFI_GUID (mixed-endian: UINT32, UINT16, UINT16 little-endian,
 * then 8 bytes in order) as a lowercase `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
 */
export function formatGuid(bytes: Uint8Array, offset = 0): string {
  const b = (i: number): number => bytes[offset + i] ?? 0;
  const h = (n: number): string => n.toString(16).padStart(2, "0");
  const le = (idx: number[]): string => idx.map((i) => h(b(i))).join("");
  return `${le([3, 2, 1, 0])}-${le([5, 4])}-${le([7, 6])}-${le([8, 9])}-${le([10, 11, 12, 13, 14, 15])}`;
}

/** The 16 bytes of a GUID string (the inverse of {@link formatGuid}). */
export function guidBytes(guid: string): Uint8Array {
  const hex = guid.replace(/-/g, "");
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) {
    throw new KimageError("bad-argument", `not a GUID: ${JSON.stringify(guid)}`, { layer: EFI_SIGLIST_LAYER, offset: -1 });
  }
  const raw = Uint8Array.from({ length: 16 }, (_, i) => parseInt(hex.slice(2 * i, 2 * i + 2), 16));
  const order = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
  return Uint8Array.from(order, (i) => raw[i] as number);
}

/**
 * Parses a buffer holding zero or more consecutive EFI_SIGNATURE_LISTs (UEFI
 * 2.10 section 32.4.1; quoted in the module documentation).
 *
 * Checks, each a `KimageError` with code `truncated` or `limit`:
 * - a list header or SignatureListSize runs past the end of the buffer;
 * - SignatureListSize < 28 + SignatureHeaderSize;
 * - SignatureSize < 16 (an EFI_SIGNATURE_DATA holds at least its owner GUID);
 * - (SignatureListSize − 28 − SignatureHeaderSize) is not a multiple of SignatureSize;
 * - the hash types' SignatureSize does not match their digest size
 *   (e.g. 16 + 32 for EFI_CERT_SHA256_GUID, 16 + 48 for EFI_CERT_X509_SHA256_GUID);
 * - more lists or entries than the limits.
 *
 * @throws KimageError `truncated`, `limit` (see above).
 */
export function parseEfiSignatureLists(bytes: Uint8Array, options: EfiSignatureListOptions = {}): EfiSignatureList[] {
  const base = options.base ?? 0;
  const maxLists = options.maxLists ?? 4096;
  const maxEntries = options.maxEntries ?? 65536;
  const v = new ByteView(bytes, EFI_SIGLIST_LAYER, base);
  const fail = (code: "truncated" | "limit", message: string, at: number): never => {
    throw new KimageError(code, message, { layer: EFI_SIGLIST_LAYER, offset: base + at });
  };
  const lists: EfiSignatureList[] = [];
  let entries = 0;
  let at = 0;
  while (at < bytes.length) {
    if (lists.length >= maxLists) fail("limit", `more than ${maxLists} EFI_SIGNATURE_LISTs`, at);
    if (bytes.length - at < EFI_SIGNATURE_LIST_HEADER_SIZE) {
      fail("truncated", `${bytes.length - at} byte(s) at 0x${(base + at).toString(16)} are too short for an EFI_SIGNATURE_LIST header`, at);
    }
    const signatureType = formatGuid(bytes, at);
    const typeName = TYPE_BY_GUID.get(signatureType);
    const signatureListSize = v.u32le(at + 16, "SignatureListSize");
    const signatureHeaderSize = v.u32le(at + 20, "SignatureHeaderSize");
    const signatureSize = v.u32le(at + 24, "SignatureSize");
    if (signatureListSize > bytes.length - at) {
      fail("truncated", `EFI_SIGNATURE_LIST at 0x${(base + at).toString(16)}: SignatureListSize ${signatureListSize} runs past the end (${bytes.length - at} byte(s) left)`, at + 16);
    }
    if (signatureListSize < EFI_SIGNATURE_LIST_HEADER_SIZE + signatureHeaderSize) {
      fail("truncated", `EFI_SIGNATURE_LIST at 0x${(base + at).toString(16)}: SignatureListSize ${signatureListSize} is smaller than its header (28 + ${signatureHeaderSize})`, at + 16);
    }
    if (signatureSize < EFI_GUID_SIZE) {
      fail("truncated", `EFI_SIGNATURE_LIST at 0x${(base + at).toString(16)}: SignatureSize ${signatureSize} is smaller than the 16-byte SignatureOwner`, at + 24);
    }
    const body = signatureListSize - EFI_SIGNATURE_LIST_HEADER_SIZE - signatureHeaderSize;
    if (body % signatureSize !== 0) {
      fail("truncated", `EFI_SIGNATURE_LIST at 0x${(base + at).toString(16)}: ${body} byte(s) of signatures are not a multiple of SignatureSize ${signatureSize}`, at + 24);
    }
    const imageAlg = typeName ? IMAGE_HASH_TYPES[typeName] : undefined;
    const tbsAlg = typeName ? TBS_HASH_TYPES[typeName] : undefined;
    const want = imageAlg ? EFI_GUID_SIZE + HASH_SIZES[imageAlg] : tbsAlg ? EFI_GUID_SIZE + HASH_SIZES[tbsAlg] + EFI_TIME_SIZE : undefined;
    if (want !== undefined && signatureSize !== want) {
      fail("truncated", `EFI_SIGNATURE_LIST at 0x${(base + at).toString(16)}: ${typeName} needs SignatureSize ${want}, found ${signatureSize}`, at + 24);
    }
    const count = body / signatureSize;
    if (entries + count > maxEntries) fail("limit", `more than ${maxEntries} EFI_SIGNATURE_DATA entries`, at);
    entries += count;
    const headerStart = at + EFI_SIGNATURE_LIST_HEADER_SIZE;
    const first = headerStart + signatureHeaderSize;
    const signatures: EfiSignatureData[] = [];
    for (let i = 0; i < count; i++) {
      const s = first + i * signatureSize;
      signatures.push({
        owner: formatGuid(bytes, s),
        data: bytes.subarray(s + EFI_GUID_SIZE, s + signatureSize),
        offset: base + s,
      });
    }
    lists.push({
      offset: base + at,
      signatureType,
      typeName,
      signatureListSize,
      signatureHeaderSize,
      signatureSize,
      header: bytes.subarray(headerStart, first),
      signatures,
    });
    at += signatureListSize;
  }
  return lists;
}

/** What a set of EFI signature lists says, sorted by use. */
export interface EfiSignatureDatabase {
  /** DER certificates (EFI_CERT_X509_GUID). */
  certificates: Uint8Array[];
  /** Authenticode image digests (EFI_CERT_SHA1/SHA256/SHA384/SHA512_GUID), lowercase hex. */
  imageHashes: { alg: HashAlgorithm; hex: string }[];
  /** Hashes of certificates' TBSCertificate (EFI_CERT_X509_SHA256/384/512_GUID), lowercase hex. */
  tbsHashes: { alg: "sha256" | "sha384" | "sha512"; hex: string; revokedAt: Date | undefined }[];
  /** Entries of other types (RSA2048, SHA224, PKCS7, unknown), by type GUID. */
  other: { signatureType: string; typeName: EfiCertTypeName | undefined; data: Uint8Array }[];
}

/**
 * EFI_TIME (UEFI 2.10 section 8.3): Year u16, Month, Day, Hour, Minute,
 * Second u8, Pad1, Nanosecond u32, TimeZone i16, Daylight, Pad2. All zero
 * means "no time" (the certificate is revoked for all time).
 */
function readEfiTime(b: Uint8Array): Date | undefined {
  if (b.every((x) => x === 0)) return undefined;
  const year = (b[0] ?? 0) | ((b[1] ?? 0) << 8);
  const d = new Date(Date.UTC(year, (b[2] ?? 1) - 1, b[3] ?? 1, b[4] ?? 0, b[5] ?? 0, b[6] ?? 0));
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/**
 * Sorts the entries of parsed signature lists by what they revoke or
 * authorize: certificates, image hashes and TBS hashes (with their
 * TimeOfRevocation). Never throws.
 */
export function efiSignatureDatabase(lists: readonly EfiSignatureList[]): EfiSignatureDatabase {
  const out: EfiSignatureDatabase = { certificates: [], imageHashes: [], tbsHashes: [], other: [] };
  for (const l of lists) {
    const imageAlg = l.typeName ? IMAGE_HASH_TYPES[l.typeName] : undefined;
    const tbsAlg = l.typeName ? TBS_HASH_TYPES[l.typeName] : undefined;
    for (const s of l.signatures) {
      if (l.typeName === "EFI_CERT_X509_GUID") out.certificates.push(s.data);
      else if (imageAlg) out.imageHashes.push({ alg: imageAlg, hex: toHex(s.data) });
      else if (tbsAlg) {
        const n = HASH_SIZES[tbsAlg];
        out.tbsHashes.push({ alg: tbsAlg, hex: toHex(s.data.subarray(0, n)), revokedAt: readEfiTime(s.data.subarray(n, n + EFI_TIME_SIZE)) });
      } else out.other.push({ signatureType: l.signatureType, typeName: l.typeName, data: s.data });
    }
  }
  return out;
}

/**
 * Builds one EFI_SIGNATURE_LIST holding `entries` of type `signatureType`
 * (all entries must have the same length, as the format requires), each
 * owned by `owner`. Useful to build a db or dbx from certificates or hashes.
 *
 * @throws KimageError `bad-argument` for entries of different lengths or none.
 */
export function buildEfiSignatureList(signatureType: string, entries: readonly Uint8Array[], owner = "00000000-0000-0000-0000-000000000000"): Uint8Array {
  const first = entries[0];
  if (first === undefined || entries.some((e) => e.length !== first.length)) {
    throw new KimageError("bad-argument", "an EFI_SIGNATURE_LIST needs one or more entries of the same length", { layer: EFI_SIGLIST_LAYER, offset: -1 });
  }
  const signatureSize = EFI_GUID_SIZE + first.length;
  const size = EFI_SIGNATURE_LIST_HEADER_SIZE + signatureSize * entries.length;
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  out.set(guidBytes(signatureType), 0);
  dv.setUint32(16, size, true);
  dv.setUint32(20, 0, true);
  dv.setUint32(24, signatureSize, true);
  const ownerBytes = guidBytes(owner);
  entries.forEach((e, i) => {
    const at = EFI_SIGNATURE_LIST_HEADER_SIZE + i * signatureSize;
    out.set(ownerBytes, at);
    out.set(e, at + EFI_GUID_SIZE);
  });
  return out;
}
