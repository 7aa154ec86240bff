/**
 * An Authenticode signature, parsed once into the CMS model: the
 * `bCertificate` of a `WIN_CERTIFICATE` of type
 * `WIN_CERT_TYPE_PKCS_SIGNED_DATA`, which is a CMS `ContentInfo` wrapping
 * `SignedData` whose encapsulated content is an Authenticode
 * `SpcIndirectDataContent`; with every SignerInfo's nested signatures
 * (1.3.6.1.4.1.311.2.4.1), PKCS#9 counter-signatures and Microsoft RFC 3161
 * timestamp tokens (1.3.6.1.4.1.311.3.3.1).
 *
 * Two readers use it: the description (`readAuthenticodeInfo`,
 * `pkcs7-info.ts`) and the verifier (`verifyAuthenticode`,
 * `signature/verify.ts`).
 *
 * All offsets are absolute (relative to the outermost input, given `base`);
 * all byte fields are subarrays of the input (no copies). Only
 * {@link KimageError} is thrown, with layer `"pkcs7"`.
 *
 * @module
 */

import { KimageError } from "../core/errors.js";
import { DER_LAYER, TAG, children, expect, parseDer, readOctetString, readTime, readTlv, walkDer, type Tlv } from "../asn1/der.js";
import { OID } from "../asn1/oids.js";
import type { ParsedCertificate } from "./certificate.js";
import { at, fail } from "./errors.js";
import { readSignedData, readSignedDataContentInfo, type SignedData } from "./signed-data.js";
import { readSignerInfo, type SignerInfo } from "./signer-info.js";
import { readSpcIndirectData, type SpcIndirectDataContent } from "./spc.js";

/** Options of {@link parseAuthenticode} (and `readAuthenticodeInfo`). */
export interface ReadAuthenticodeOptions {
  /**
   * Throw instead of reporting: `asn1-trailing-bytes` when anything (even
   * zero padding) follows the DER value, and the first DER content-rule
   * violation (`asn1-not-der`, `asn1-malformed`) found anywhere in the tree,
   * including signed attributes out of DER SET OF order. Default false.
   */
  strict?: boolean;
  /** Deepest nesting of nested signatures / timestamps parsed (default 4). */
  maxNesting?: number;
}

/** A timestamp attached to a signer as an unsigned attribute. */
export interface AuthenticodeTimestamp {
  /** `counterSignature` (PKCS#9, 1.2.840.113549.1.9.6) or `rfc3161` (1.3.6.1.4.1.311.3.3.1). */
  kind: "counterSignature" | "rfc3161";
  /** Absolute offset of the attribute value. */
  offset: number;
  /** signingTime of the counter-signature, or genTime of the RFC 3161 TSTInfo. */
  time: Date | undefined;
  /** The timestamp's signers (the counter-signature itself, or the token's SignerInfos). */
  signers: AuthenticodeSigner[];
  /** The certificates the signers' certificates are found among. */
  certificates: readonly ParsedCertificate[];
}

/** One SignerInfo of an Authenticode signature, with its unsigned attributes interpreted. */
export interface AuthenticodeSigner {
  /** The SignerInfo. */
  signerInfo: SignerInfo;
  /** Number of nested-signature (1.3.6.1.4.1.311.2.4.1) values. */
  nestedSignatureCount: number;
  /** The nested signatures, parsed (up to the nesting limit). */
  nestedSignatures: AuthenticodeSignature[];
  /** True when a PKCS#9 counterSignature attribute is present. */
  hasCounterSignature: boolean;
  /** True when a Microsoft RFC 3161 timestamp attribute is present. */
  hasRfc3161Timestamp: boolean;
  /** The timestamps (counter-signatures and RFC 3161 tokens), parsed. */
  timestamps: AuthenticodeTimestamp[];
}

/** An Authenticode signature (nothing here is verified). */
export interface AuthenticodeSignature {
  /** Absolute offset of the ContentInfo. */
  offset: number;
  /** Length of the ContentInfo DER value, header included. */
  length: number;
  /**
   * True when the input is exactly one DER value (no trailing bytes) and the
   * whole tree, including values nested in OCTET STRINGs that were parsed,
   * follows the DER content rules. Nested signatures repeat the outermost
   * signature's value.
   */
  der: boolean;
  /** The first DER content-rule violation found (as `KimageError.toLine()`), if any. */
  derIssue: string | undefined;
  /** Bytes after the DER value (e.g. WIN_CERTIFICATE alignment padding). */
  trailingBytes: number;
  /** True when any trailing byte is non-zero (CVE-2013-3900-style appended data). */
  trailingNonZero: boolean;
  /** The SignedData (its certificates parsed; its SignerInfos are {@link signers}). */
  signedData: SignedData;
  /** True when eContent wraps SpcIndirectDataContent in an OCTET STRING (CMS style) rather than directly. */
  eContentWrapped: boolean;
  /** The SpcIndirectDataContent. */
  spc: SpcIndirectDataContent;
  /** One entry per SignerInfo. */
  signers: AuthenticodeSigner[];
}

interface Ctx {
  strict: boolean;
  maxNesting: number;
  /** First DER content-rule violation seen anywhere (mutable while parsing). */
  derIssue: string | undefined;
  /** True when the outer tree breaks a DER content rule: certificates must then be checked one by one. */
  checkCertificateDer: boolean;
}

/**
 * Checks a tree that the outer walk could not see (it sits inside an OCTET
 * STRING): its structure always, its DER content rules strictly in strict
 * mode, else recording the first violation.
 */
function checkDer(t: Tlv, ctx: Ctx): void {
  walkDer(t, { checkPrimitives: false });
  try {
    walkDer(t, { checkPrimitives: true });
  } catch (e) {
    if (ctx.strict || !(e instanceof KimageError)) throw e;
    ctx.derIssue ??= e.toLine();
  }
}

/** Records a DER content-rule violation found by the PKCS#7 layer (throws it in strict mode). */
function noteNotDer(ctx: Ctx, message: string, offset: number): void {
  const e = new KimageError("asn1-not-der", message, { layer: DER_LAYER, offset });
  if (ctx.strict) throw e;
  ctx.derIssue ??= e.toLine();
}

function checkNesting(t: Tlv, nesting: number, ctx: Ctx): void {
  if (nesting >= ctx.maxNesting) {
    fail("limit", `signatures nested deeper than ${ctx.maxNesting} levels at ${at(t)}`, t.offset);
  }
}

function readSignedDataOf(t: Tlv, what: string, ctx: Ctx): SignedData {
  return readSignedData(t, what, { dialect: "authenticode", checkCertificateDer: ctx.checkCertificateDer });
}

/** Reads a SignerInfo and interprets its unsigned attributes (nested signatures, timestamps). */
function readSigner(t: Tlv, certs: readonly ParsedCertificate[], ctx: Ctx, nesting: number): AuthenticodeSigner {
  const signerInfo = readSignerInfo(t, { dialect: "authenticode", notDer: (message, offset) => noteNotDer(ctx, message, offset) });
  const out: AuthenticodeSigner = {
    signerInfo,
    nestedSignatureCount: 0,
    nestedSignatures: [],
    hasCounterSignature: false,
    hasRfc3161Timestamp: false,
    timestamps: [],
  };
  for (const a of signerInfo.unsignedAttributes) {
    if (a.type === OID.nestedSignature) {
      out.nestedSignatureCount += a.values.length;
      for (const v of a.values) {
        checkNesting(v, nesting, ctx);
        out.nestedSignatures.push(readAuthenticode(v, ctx, nesting + 1));
      }
    } else if (a.type === OID.counterSignature) {
      // Countersignature ::= SignerInfo                               -- RFC 5652 section 11.4
      out.hasCounterSignature = true;
      for (const v of a.values) {
        checkNesting(v, nesting, ctx);
        const cs = readSigner(v, certs, ctx, nesting + 1);
        out.timestamps.push({ kind: "counterSignature", offset: v.offset, time: cs.signerInfo.signingTime, signers: [cs], certificates: certs });
      }
    } else if (a.type === OID.rfc3161Timestamp) {
      out.hasRfc3161Timestamp = true;
      for (const v of a.values) {
        checkNesting(v, nesting, ctx);
        out.timestamps.push(readTimeStampToken(v, ctx, nesting + 1));
      }
    }
  }
  return out;
}

/*
 * The value of the 1.3.6.1.4.1.311.3.3.1 attribute is an RFC 3161
 * TimeStampToken: a ContentInfo with SignedData whose eContent is TSTInfo.
 *
 * TSTInfo ::= SEQUENCE  {
 *    version                      INTEGER  { v1(1) },
 *    policy                       TSAPolicyId,
 *    messageImprint               MessageImprint,
 *    serialNumber                 INTEGER,
 *    genTime                      GeneralizedTime,
 *    accuracy                     Accuracy                 OPTIONAL,
 *    ordering                     BOOLEAN             DEFAULT FALSE,
 *    nonce                        INTEGER                  OPTIONAL,
 *    tsa                          [0] GeneralName          OPTIONAL,
 *    extensions                   [1] IMPLICIT Extensions   OPTIONAL  }
 *                                 -- RFC 3161 section 2.4.2
 */
function readTimeStampToken(t: Tlv, ctx: Ctx, nesting: number): AuthenticodeTimestamp {
  const sd = readSignedDataOf(readSignedDataContentInfo(t, "TimeStampToken", "authenticode"), "TimeStampToken SignedData", ctx);
  if (sd.eContentType !== OID.tstInfo || sd.eContent === undefined) {
    fail("pkcs7-unexpected", `TimeStampToken at ${at(t)}: eContent is not TSTInfo`, t.offset);
  }
  const octets = readOctetString(sd.eContent, "TimeStampToken eContent");
  const tst = parseDer(octets, sd.eContent.contentOffset, { validate: false, ...sd.eContent.limits });
  checkDer(tst, ctx);
  expect(tst, TAG.SEQUENCE, "TSTInfo");
  const genTimeTlv = children(tst)[4];
  if (genTimeTlv === undefined) fail("asn1-malformed", `TSTInfo at ${at(tst)} has no genTime`, tst.offset);
  const time = readTime(expect(genTimeTlv, TAG.GENERALIZED_TIME, "TSTInfo.genTime"), "TSTInfo.genTime");
  const signers = sd.signerInfos.map((s) => readSigner(s, sd.certificates, ctx, nesting));
  return { kind: "rfc3161", offset: t.offset, time, signers, certificates: sd.certificates };
}

/** Reads a ContentInfo TLV as an Authenticode signature (no DER walk, no trailing check). */
function readAuthenticode(t: Tlv, ctx: Ctx, nesting: number): AuthenticodeSignature {
  const content = readSignedDataContentInfo(t, "ContentInfo", "authenticode");
  const sd = readSignedDataOf(content, "SignedData", ctx);
  // Authenticode's ContentInfo carries SpcIndirectDataContent (SPC_INDIRECT_DATA_OBJID, 1.3.6.1.4.1.311.2.1.4).
  if (sd.eContentType !== OID.spcIndirectDataContent) {
    fail("pkcs7-unexpected", `SignedData at ${at(content)}: eContentType ${sd.eContentType} is not SpcIndirectDataContent`, content.offset);
  }
  if (sd.eContent === undefined) {
    fail("pkcs7-unexpected", `SignedData at ${at(content)}: no eContent (detached signature)`, content.offset);
  }
  let spc = sd.eContent;
  let eContentWrapped = false;
  if (spc.tag === TAG.OCTET_STRING) {
    eContentWrapped = true;
    spc = parseDer(spc.content, spc.contentOffset, { validate: false, ...spc.limits });
    checkDer(spc, ctx);
  }
  const spcContent = readSpcIndirectData(spc);
  if (sd.signerInfos.length === 0) {
    fail("pkcs7-unexpected", `SignedData at ${at(content)} has no SignerInfo`, content.offset);
  }
  const signers = sd.signerInfos.map((s) => readSigner(s, sd.certificates, ctx, nesting));
  return {
    offset: t.offset,
    length: t.end - t.offset,
    der: true,
    derIssue: undefined,
    trailingBytes: 0,
    trailingNonZero: false,
    signedData: sd,
    eContentWrapped,
    spc: spcContent,
    signers,
  };
}

/**
 * Parses an Authenticode signature: the `bCertificate` bytes of a
 * `WIN_CERTIFICATE` (a ContentInfo wrapping SignedData wrapping
 * SpcIndirectDataContent). Nothing is verified.
 *
 * The first DER value is parsed; bytes after it (WIN_CERTIFICATE padding is
 * included in dwLength in real files) are reported in `trailingBytes` /
 * `trailingNonZero` rather than rejected, unless `opts.strict`. The
 * certificates are read leniently: one the description can read but a
 * verifier cannot use carries its `problem`.
 *
 * @param pkcs7 The signature bytes.
 * @param base Absolute offset of `pkcs7[0]` in the outermost input (for errors and offsets).
 * @param opts See {@link ReadAuthenticodeOptions}.
 * @throws KimageError `truncated`, `asn1-malformed`, `asn1-not-der` for bad
 *   encodings; `pkcs7-unexpected` when the structure is not Authenticode
 *   SignedData; `limit` for oversized or too deeply nested input;
 *   `asn1-trailing-bytes` in strict mode.
 */
export function parseAuthenticode(pkcs7: Uint8Array, base = 0, opts: ReadAuthenticodeOptions = {}): AuthenticodeSignature {
  const strict = opts.strict ?? false;
  const top = readTlv(pkcs7, 0, { base });
  const trailingBytes = base + pkcs7.length - top.end;
  let trailingNonZero = false;
  for (let i = top.end - base; i < pkcs7.length; i++) {
    if (pkcs7[i] !== 0) {
      trailingNonZero = true;
      break;
    }
  }
  if (strict && trailingBytes > 0) {
    fail("asn1-trailing-bytes", `${trailingBytes} byte(s) follow the PKCS#7 DER value ending at 0x${top.end.toString(16)}`, top.end);
  }
  // Structure first (throws on anything unreadable), then the DER content rules.
  const ctx: Ctx = { strict, maxNesting: opts.maxNesting ?? 4, derIssue: undefined, checkCertificateDer: false };
  checkDer(top, ctx);
  ctx.checkCertificateDer = ctx.derIssue !== undefined;
  const sig = readAuthenticode(top, ctx, 0);
  const der = ctx.derIssue === undefined && trailingBytes === 0;
  const mark = (s: AuthenticodeSignature): void => {
    s.der = der;
    s.derIssue = ctx.derIssue;
    for (const signer of s.signers) for (const n of signer.nestedSignatures) mark(n);
  };
  mark(sig);
  sig.trailingBytes = trailingBytes;
  sig.trailingNonZero = trailingNonZero;
  return sig;
}
