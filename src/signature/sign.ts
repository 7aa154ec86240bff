/**
 * Authenticode signing of PE/COFF images (UEFI applications, EFI-stub
 * kernels), producing what osslsigncode and sbsign produce and what the
 * Linux kernel (verify_pefile.c, mscode_parser.c), shim and EDK2 verify.
 *
 * The output file is:
 *
 * 1. the image without any certificate table (or, in `append` and `nest`
 *    modes, with its existing table kept where it is), zero-padded to a
 *    multiple of 8;
 * 2. the attribute certificate table: one `WIN_CERTIFICATE` per signature,
 *    `dwLength = 8 + DER length`, `wRevision = 0x0200`,
 *    `wCertificateType = 2` (PKCS_SIGNED_DATA), each zero-padded to 8 bytes;
 * 3. data directory 4 = { table offset, table size }, and the CheckSum
 *    recomputed over the final file.
 *
 * The image digest is computed over that output layout, so it equals
 * `authenticodeDigest(output)`: the padding added in step 1 is hashed, as
 * pesign `-P` and the kernel do.
 *
 * The pure core never reads the clock (a signingTime attribute is written
 * only when the caller gives one) and never reads globals at import time:
 * WebCrypto is `options.crypto`, defaulting to `globalThis.crypto.subtle`
 * read at call time.
 *
 * @module
 */

import { alignUp } from "../core/bytes.js";
import { KimageError } from "../core/errors.js";
import { OID } from "../asn1/oids.js";
import { TAG, children, readOid, readTlv, type Tlv } from "../asn1/der.js";
import {
  bmpBytes,
  concatBytes,
  derBitString,
  derContextPrimitive,
  derExplicit,
  derIa5String,
  derImplicit,
  derInteger,
  derNull,
  derOctetString,
  derOid,
  derSequence,
  derSet,
  derTime,
  derTlv,
} from "../asn1/der-writer.js";
import { defaultHashProvider } from "../hash/index.js";
import { HASH_LENGTH, type HashAlgorithm, type HashProvider } from "../hash/types.js";
import type { SubtleSigner } from "../hash/webcrypto-types.js";
import { parsePe } from "../formats/pe/parse.js";
import { authenticodeDigest } from "../formats/pe/authenticode.js";
import { writePeChecksum } from "../formats/pe/checksum.js";
import { WIN_CERT_REVISION_2_0, WIN_CERT_TYPE_PKCS_SIGNED_DATA, WIN_CERTIFICATE_HEADER_SIZE } from "../formats/pe/spec.js";
import { readAuthenticodeInfo } from "../cms/pkcs7-info.js";
import {
  SIGN_LAYER,
  importSigningKey,
  readCertificates,
  readSignerCertificate,
  resolveSubtle,
  signData,
  type CertificateInput,
  type SignerCertificate,
  type SigningKeyInput,
} from "./keys.js";

/** Digest algorithms an Authenticode signature can use. */
export type AuthenticodeSignAlgorithm = "sha256" | "sha384" | "sha512" | "sha1";

/**
 * What to do with an existing certificate table:
 * - `replace`: drop it (every existing signature is removed);
 * - `append`: keep it and add a new `WIN_CERTIFICATE` entry after it (shim
 *   and sbverify accept any entry; the kernel and EDK2 read the first);
 * - `nest`: add the new SignedData as a nested signature
 *   (1.3.6.1.4.1.311.2.4.1) in the unsigned attributes of the first
 *   SignerInfo of the first entry, as `osslsigncode sign -nest` and
 *   `signtool /as` do.
 */
export type AuthenticodeSignMode = "replace" | "append" | "nest";

/** Options of {@link createAuthenticodeSignature}. */
export interface AuthenticodeSignatureOptions {
  /** The private key: a `CryptoKey`, PKCS#8 (or PKCS#1 / SEC1) DER, or PEM text. */
  key: SigningKeyInput;
  /**
   * The signer's certificate first, then any chain certificates to include;
   * DER or PEM (a PEM string may hold several certificates).
   */
  certs: CertificateInput[];
  /** Digest algorithm of the image digest and of the signature; default `sha256`. */
  alg?: AuthenticodeSignAlgorithm;
  /**
   * Written as the signingTime signed attribute (UTCTime until 2049) when
   * given; omitted otherwise. The kernel requires it to lie inside the
   * signer certificate's validity when present.
   */
  signingTime?: Date;
  /** SpcSpOpusInfo.programName (written as a BMPString), when given. */
  programName?: string;
  /** SpcSpOpusInfo.moreInfo URL (IA5String), when given. */
  moreInfoUrl?: string;
  /**
   * The SpcStatementType signed attribute: `individual` (default, as
   * osslsigncode and signtool write it), `commercial`, or `none` (as sbsign).
   */
  statementType?: "individual" | "commercial" | "none";
  /** WebCrypto to sign with; default `globalThis.crypto.subtle`, read at call time. */
  crypto?: SubtleSigner;
  /** Where hashing happens; default {@link defaultHashProvider}. */
  hash?: HashProvider;
}

/** Options of {@link signAuthenticode}. */
export interface SignAuthenticodeOptions extends AuthenticodeSignatureOptions {
  /** What to do with an existing certificate table; default `replace`. */
  mode?: AuthenticodeSignMode;
}

const ALGS: readonly AuthenticodeSignAlgorithm[] = ["sha256", "sha384", "sha512", "sha1"];

function fail(code: "bad-argument" | "sign-table-unsupported" | "sign-nothing-to-nest" | "sign-cert-invalid" | "pe-no-cert-directory", message: string, offset = -1): never {
  throw new KimageError(code, message, { layer: code === "pe-no-cert-directory" ? "pe" : SIGN_LAYER, offset });
}

function checkAlg(alg: string): HashAlgorithm {
  if (!(ALGS as readonly string[]).includes(alg)) fail("bad-argument", `unknown Authenticode digest algorithm ${JSON.stringify(alg)}`);
  return alg as HashAlgorithm;
}

/*
 * AlgorithmIdentifier ::= SEQUENCE {
 *   algorithm   OBJECT IDENTIFIER,
 *   parameters  ANY DEFINED BY algorithm OPTIONAL }
 *
 * Authenticode signers (signtool, osslsigncode, sbsign) give the SHA digest
 * algorithms NULL parameters; RFC 5754 2 allows both forms.
 */
function digestAlgorithmId(alg: HashAlgorithm): Uint8Array {
  return derSequence(derOid(OID[alg]), derNull());
}

/** UTF-16BE "<<<Obsolete>>>", the SpcLink every signer writes into SpcPeImageData. */
const OBSOLETE = "<<<Obsolete>>>";

/*
 * SpcIndirectDataContent ::= SEQUENCE {
 *     data                    SpcAttributeTypeAndOptionalValue,
 *     messageDigest           DigestInfo
 * } --#public--
 *
 * SpcAttributeTypeAndOptionalValue ::= SEQUENCE {
 *     type                    ObjectID,
 *     value                   [0] EXPLICIT ANY OPTIONAL
 * }
 *
 * DigestInfo ::= SEQUENCE {
 *     digestAlgorithm     AlgorithmIdentifier,
 *     digest              OCTETSTRING
 * }
 *
 * SpcPeImageData ::= SEQUENCE {
 *    flags                   SpcPeImageFlags DEFAULT { includeResources },
 *    file                    SpcLink
 * } --#public--
 *
 * SpcPeImageFlags ::= BIT STRING {
 *     includeResources            (0),
 *     includeDebugInfo            (1),
 *     includeImportAddressTable   (2)
 * }
 *
 * SpcLink ::= CHOICE {
 *     url                     [0] IMPLICIT IA5STRING,
 *     moniker                 [1] IMPLICIT SpcSerializedObject,
 *     file                    [2] EXPLICIT SpcString
 * } --#public--
 *
 * SpcString ::= CHOICE {
 *     unicode                 [0] IMPLICIT BMPSTRING,
 *     ascii                   [1] IMPLICIT IA5STRING
 * }
 *                                 -- Authenticode PE specification
 *
 * As every signer does, `value` is the SpcPeImageData SEQUENCE itself
 * (untagged), `file` is carried as `[0] EXPLICIT SpcLink` holding
 * `file [2] { unicode [0] "<<<Obsolete>>>" }`, and flags is the empty BIT
 * STRING 03 01 00 (signtool, sbsign, pesign; osslsigncode writes
 * includeResources, which equals the DEFAULT and so is not DER).
 */
function spcIndirectDataContent(alg: HashAlgorithm, imageDigest: Uint8Array): { tlv: Uint8Array; content: Uint8Array } {
  const peImageData = derSequence(
    derBitString(new Uint8Array(0)),
    derExplicit(0, derExplicit(2, derContextPrimitive(0, bmpBytes(OBSOLETE)))),
  );
  const data = derSequence(derOid(OID.spcPeImageData), peImageData);
  const digestInfo = derSequence(digestAlgorithmId(alg), derOctetString(imageDigest));
  const content = concatBytes([data, digestInfo]);
  return { tlv: derTlv(TAG.SEQUENCE, content), content };
}

/*
 * Attribute ::= SEQUENCE {
 *   attrType OBJECT IDENTIFIER,
 *   attrValues SET OF AttributeValue }
 *                                 -- RFC 5652 section 5.3
 */
function attribute(type: string, ...values: Uint8Array[]): Uint8Array {
  return derSequence(derOid(type), derSet(...values));
}

/*
 * SpcSpOpusInfo ::= SEQUENCE {
 *     programName             [0] EXPLICIT SpcString OPTIONAL,
 *     moreInfo                [1] EXPLICIT SpcLink OPTIONAL,
 * } --#public--
 *
 * SpcStatementType ::= SEQUENCE of OBJECT IDENTIFIER
 *                                 -- Authenticode PE specification
 */
function opusInfo(programName: string | undefined, moreInfoUrl: string | undefined): Uint8Array {
  const parts: Uint8Array[] = [];
  if (programName !== undefined) parts.push(derExplicit(0, derContextPrimitive(0, bmpBytes(programName))));
  if (moreInfoUrl !== undefined) parts.push(derExplicit(1, derImplicit(0, derIa5String(moreInfoUrl))));
  return derSequence(...parts);
}

/*
 * ContentInfo ::= SEQUENCE {
 *   contentType ContentType,
 *   content [0] EXPLICIT ANY DEFINED BY contentType }
 *
 * SignedData ::= SEQUENCE {
 *   version CMSVersion,
 *   digestAlgorithms DigestAlgorithmIdentifiers,
 *   encapContentInfo EncapsulatedContentInfo,
 *   certificates [0] IMPLICIT CertificateSet OPTIONAL,
 *   crls [1] IMPLICIT RevocationInfoChoices OPTIONAL,
 *   signerInfos SignerInfos }
 *
 * EncapsulatedContentInfo ::= SEQUENCE {
 *   eContentType ContentType,
 *   eContent [0] EXPLICIT OCTET STRING OPTIONAL }
 *
 * SignerInfo ::= SEQUENCE {
 *   version CMSVersion,
 *   sid SignerIdentifier,
 *   digestAlgorithm DigestAlgorithmIdentifier,
 *   signedAttrs [0] IMPLICIT SignedAttributes OPTIONAL,
 *   signatureAlgorithm SignatureAlgorithmIdentifier,
 *   signature SignatureValue,
 *   unsignedAttrs [1] IMPLICIT UnsignedAttributes OPTIONAL }
 *
 * IssuerAndSerialNumber ::= SEQUENCE {
 *   issuer Name,
 *   serialNumber CertificateSerialNumber }
 *                                 -- RFC 5652 sections 3, 5.1, 5.2, 5.3, 10.2.4
 *
 * Authenticode follows PKCS#7 v1.5: SignedData and SignerInfo version 1,
 * and eContent is SpcIndirectDataContent itself, not wrapped in an OCTET
 * STRING. "the message digest is computed on the complete DER encoding of
 * the SignedAttrs value contained in the signedAttrs field ... the IMPLICIT
 * [0] tag in the signedAttrs is not used for the DER encoding, rather an
 * EXPLICIT SET OF tag is used" (RFC 5652 5.4), and messageDigest is the hash
 * of SpcIndirectDataContent's content octets, without its tag and length.
 * The certificates are a SET OF, so they are written in DER order (the
 * signer is found by its issuer and serial number, not by position).
 */
/**
 * Builds and signs an Authenticode `ContentInfo` (DER) for an image whose
 * Authenticode digest is `imageDigest`: the bytes of one `WIN_CERTIFICATE`'s
 * `bCertificate`.
 *
 * @throws KimageError `bad-argument` for an unknown algorithm or a digest of
 *   the wrong length; `sign-cert-invalid`, `sign-key-invalid`,
 *   `sign-key-unsupported`, `sign-key-mismatch`, `sign-no-crypto`.
 */
export async function createAuthenticodeSignature(
  imageDigest: Uint8Array,
  options: AuthenticodeSignatureOptions,
): Promise<Uint8Array> {
  const alg = checkAlg(options.alg ?? "sha256");
  if (imageDigest.length !== HASH_LENGTH[alg]) {
    fail("bad-argument", `a ${alg} image digest is ${HASH_LENGTH[alg]} bytes, not ${imageDigest.length}`);
  }
  const prepared = await prepareSigner(options, alg);
  return buildSignature(imageDigest, options, alg, prepared);
}

interface PreparedSigner {
  subtle: SubtleSigner;
  key: Awaited<ReturnType<typeof importSigningKey>>;
  signer: SignerCertificate;
  certs: Uint8Array[];
  hash: HashProvider;
}

async function prepareSigner(options: AuthenticodeSignatureOptions, alg: HashAlgorithm): Promise<PreparedSigner> {
  const certs = readCertificates(options.certs);
  const first = certs[0];
  if (first === undefined) fail("sign-cert-invalid", "no signer certificate given (options.certs is empty)");
  const signer = readSignerCertificate(first);
  const subtle = resolveSubtle(options.crypto);
  const key = await importSigningKey(options.key, alg, subtle);
  const unique: Uint8Array[] = [];
  for (const c of certs) if (!unique.some((u) => sameBytes(u, c))) unique.push(c);
  return { subtle, key, signer, certs: unique, hash: options.hash ?? defaultHashProvider() };
}

async function buildSignature(
  imageDigest: Uint8Array,
  options: AuthenticodeSignatureOptions,
  alg: HashAlgorithm,
  p: PreparedSigner,
): Promise<Uint8Array> {
  const spc = spcIndirectDataContent(alg, imageDigest);
  const contentDigest = await p.hash.digest(alg, [spc.content]);

  const attrs: Uint8Array[] = [attribute(OID.contentType, derOid(OID.spcIndirectDataContent))];
  if (options.signingTime !== undefined) attrs.push(attribute(OID.signingTime, derTime(options.signingTime)));
  if (options.programName !== undefined || options.moreInfoUrl !== undefined) {
    attrs.push(attribute(OID.spcSpOpusInfo, opusInfo(options.programName, options.moreInfoUrl)));
  }
  const statement = options.statementType ?? "individual";
  if (statement !== "none") {
    const purpose = statement === "individual" ? OID.spcIndividualSpKeyPurpose : OID.spcCommercialSpKeyPurpose;
    attrs.push(attribute(OID.spcStatementType, derSequence(derOid(purpose))));
  }
  attrs.push(attribute(OID.messageDigest, derOctetString(contentDigest)));
  const signedAttrsSet = derSet(...attrs);
  const sig = await signData(p.key, alg, signedAttrsSet, p.subtle, p.signer);

  const signerInfo = derSequence(
    derInteger(1),
    derSequence(p.signer.issuer, p.signer.serialNumber),
    digestAlgorithmId(alg),
    derImplicit(0, signedAttrsSet),
    sig.algorithm,
    derOctetString(sig.value),
  );
  const signedData = derSequence(
    derInteger(1),
    derSet(digestAlgorithmId(alg)),
    derSequence(derOid(OID.spcIndirectDataContent), derExplicit(0, spc.tlv)),
    derImplicit(0, derSet(...p.certs)),
    derSet(signerInfo),
  );
  return derSequence(derOid(OID.signedData), derExplicit(0, signedData));
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/*
 * typedef struct _WIN_CERTIFICATE {
 *     DWORD dwLength;
 *     WORD  wRevision;
 *     WORD  wCertificateType;
 *     BYTE  bCertificate[ANYSIZE_ARRAY];
 * } WIN_CERTIFICATE;
 */
/** One WIN_CERTIFICATE entry: header, `der`, zero padding to 8 bytes. */
function winCertificate(der: Uint8Array, revision = WIN_CERT_REVISION_2_0, type = WIN_CERT_TYPE_PKCS_SIGNED_DATA): Uint8Array {
  const dwLength = WIN_CERTIFICATE_HEADER_SIZE + der.length;
  const out = new Uint8Array(alignUp(dwLength, 8));
  const dv = new DataView(out.buffer);
  dv.setUint32(0, dwLength, true);
  dv.setUint16(4, revision, true);
  dv.setUint16(6, type, true);
  out.set(der, WIN_CERTIFICATE_HEADER_SIZE);
  return out;
}

/**
 * `existing` (an Authenticode ContentInfo) with `nested` added to the
 * unsigned attributes of its first SignerInfo: as a new value of its
 * nested-signature attribute when it has one, else as a new attribute.
 * Only the path from the ContentInfo down to that SignerInfo is re-encoded;
 * every other byte is kept as it was, and the signature stays valid (the
 * unsigned attributes are not signed).
 */
function nestSignature(existing: Tlv, nested: Uint8Array): Uint8Array {
  const [ctOid, wrap] = children(existing);
  const [signedData] = wrap ? children(wrap) : [];
  if (!ctOid || !wrap || !signedData) fail("sign-table-unsupported", "the first signature is not a ContentInfo with content");
  const sdKids = children(signedData);
  const signerInfos = sdKids[sdKids.length - 1] as Tlv;
  const [first, ...others] = children(signerInfos);
  if (signerInfos.tag !== TAG.SET || first === undefined) fail("sign-table-unsupported", "the first signature has no SignerInfo to nest into");
  const siKids = children(first);
  const last = siKids[siKids.length - 1] as Tlv;
  let unsigned: Uint8Array;
  const newAttr = (): Uint8Array => attribute(OID.nestedSignature, nested);
  if (last.tag === 0xa1) {
    const attrs = children(last).map((a) => {
      const [type, values] = children(a);
      if (type && values && type.tag === TAG.OID && readOid(type) === OID.nestedSignature) {
        return { raw: derSequence(type.raw, derSet(...children(values).map((v) => v.raw), nested)), nested: true };
      }
      return { raw: a.raw, nested: false };
    });
    const list = attrs.map((a) => a.raw);
    if (!attrs.some((a) => a.nested)) list.push(newAttr());
    unsigned = derImplicit(1, derSet(...list));
  } else {
    unsigned = derImplicit(1, derSet(newAttr()));
  }
  const keep = last.tag === 0xa1 ? siKids.slice(0, -1) : siKids;
  const newFirst = derTlv(first.tag, ...keep.map((k) => k.raw), unsigned);
  const newInfos = derTlv(signerInfos.tag, newFirst, ...others.map((o) => o.raw));
  const newSignedData = derTlv(signedData.tag, ...sdKids.slice(0, -1).map((k) => k.raw), newInfos);
  return derTlv(existing.tag, ctOid.raw, derTlv(wrap.tag, newSignedData));
}

/**
 * Signs a PE/COFF image with Authenticode and returns the signed file (a new
 * array; `bytes` is not modified).
 *
 * The PKCS#7 is what osslsigncode and sbsign write: ContentInfo(signedData)
 * → SignedData v1 { digestAlgorithms {alg}, SpcIndirectDataContent
 * { SpcPeImageData, DigestInfo { alg, image digest } }, certificates, one
 * SignerInfo v1 { issuerAndSerialNumber, signed attributes contentType,
 * [signingTime], [SpcSpOpusInfo], [SpcStatementType], messageDigest;
 * rsaEncryption or ecdsa-with-SHA* signature } }.
 *
 * @example
 * ```ts
 * const signed = await signAuthenticode(image, { key: keyPem, certs: [certPem] });
 * ```
 * @throws KimageError from `parsePe`; `pe-no-cert-directory` when the image
 *   has no certificate-table directory entry; `sign-table-unsupported` when
 *   an existing table is not at the end of the file, or (append, nest) is
 *   misaligned or malformed; `sign-nothing-to-nest` for `nest` on an
 *   unsigned image; and the errors of {@link createAuthenticodeSignature}.
 */
export async function signAuthenticode(bytes: Uint8Array, options: SignAuthenticodeOptions): Promise<Uint8Array> {
  const alg = checkAlg(options.alg ?? "sha256");
  const mode = options.mode ?? "replace";
  if (mode !== "replace" && mode !== "append" && mode !== "nest") fail("bad-argument", `unknown signing mode ${JSON.stringify(mode)}`);
  const pe = parsePe(bytes);
  const dirEntry = pe.layout.certDirectoryEntry;
  const checksumAt = pe.layout.checksum;
  if (dirEntry === null) {
    fail("pe-no-cert-directory", `NumberOfRvaAndSizes = ${pe.optional.NumberOfRvaAndSizes}: the image has no certificate-table entry to sign into`, pe.layout.optionalHeader);
  }
  const table = pe.certificateTable;
  let imageEnd = bytes.length;
  if (table !== null) {
    if (table.offset + table.size !== bytes.length) {
      fail("sign-table-unsupported", `${bytes.length - table.offset - table.size} byte(s) follow the certificate table; kimage signs only images whose table ends the file`, dirEntry);
    }
    imageEnd = table.offset;
    if (mode !== "replace") {
      if (table.offset % 8 !== 0) {
        fail("sign-table-unsupported", `the certificate table at 0x${table.offset.toString(16)} is not 8-aligned; use mode "replace"`, dirEntry);
      }
      const bad = pe.findings.find((f) => f.code.startsWith("cert-"));
      if (bad !== undefined || table.entries.length === 0) {
        fail("sign-table-unsupported", `the existing certificate table is malformed${bad ? ` (${bad.code}: ${bad.message})` : ""}; use mode "replace"`, bad?.offset ?? dirEntry);
      }
    }
  }
  const firstEntry = table?.entries[0];
  if (mode === "nest" && (table === null || firstEntry === undefined)) {
    fail("sign-nothing-to-nest", "the image is unsigned: there is no signature to nest into");
  }
  // Check the first signature is one we can nest into before signing anything.
  const nestTarget = mode === "nest" && firstEntry !== undefined ? readTlv(firstEntry.bCertificate, 0, { base: firstEntry.contentOffset }) : undefined;
  if (nestTarget !== undefined && firstEntry !== undefined) readAuthenticodeInfo(firstEntry.bCertificate, firstEntry.contentOffset);

  const prepared = await prepareSigner(options, alg);

  // The image as it will be written, without a table: padded to 8, directory and CheckSum zeroed.
  const imageLength = mode === "replace" || table === null ? alignUp(imageEnd, 8) : imageEnd;
  const image = new Uint8Array(imageLength);
  image.set(bytes.subarray(0, imageEnd));
  image.fill(0, dirEntry, dirEntry + 8);
  image.fill(0, checksumAt, checksumAt + 4);
  const digest = await authenticodeDigest(image, alg, { hash: prepared.hash });
  const der = await buildSignature(digest.digest, options, alg, prepared);

  let tableBytes: Uint8Array;
  if (mode === "replace" || table === null) {
    tableBytes = winCertificate(der);
  } else if (mode === "append") {
    tableBytes = concatBytes([bytes.subarray(table.offset), winCertificate(der)]);
  } else {
    const entry = firstEntry as NonNullable<typeof firstEntry>;
    const rest = bytes.subarray(entry.offset + alignUp(entry.dwLength, 8));
    tableBytes = concatBytes([
      winCertificate(nestSignature(nestTarget as Tlv, der), entry.wRevision, entry.wCertificateType),
      rest,
    ]);
  }

  const out = new Uint8Array(imageLength + tableBytes.length);
  out.set(image);
  out.set(tableBytes, imageLength);
  const dv = new DataView(out.buffer);
  dv.setUint32(dirEntry, imageLength, true);
  dv.setUint32(dirEntry + 4, tableBytes.length, true);
  writePeChecksum(out, checksumAt);
  return out;
}
