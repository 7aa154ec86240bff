/**
 * Named object identifiers used by Authenticode, CMS (RFC 5652) and X.509
 * (RFC 5280), as dotted-decimal strings, with a reverse lookup.
 *
 * The constants are grouped by family ({@link OID}) so that a verifier can
 * refer to e.g. `OID.sha256` or `OID.spcIndirectDataContent` instead of
 * repeating dotted strings. {@link oidName} maps a dotted string back to a
 * short, stable name (the key in {@link OID}); {@link digestNameOf} and
 * {@link dnAttributeLabel} are the narrower lookups the parsers need.
 *
 * @module
 */

/**
 * Every OID kimage knows by name. Keys are stable identifiers (they are what
 * {@link oidName} returns); values are dotted-decimal OID strings.
 */
export const OID = {
  // --- PKCS#7 / CMS content types (RFC 5652 section 4, 5) ---
  /** id-data: `1.2.840.113549.1.7.1`. */
  data: "1.2.840.113549.1.7.1",
  /** id-signedData: `1.2.840.113549.1.7.2`. */
  signedData: "1.2.840.113549.1.7.2",
  /** id-envelopedData: `1.2.840.113549.1.7.3`. */
  envelopedData: "1.2.840.113549.1.7.3",
  /** id-digestedData: `1.2.840.113549.1.7.5`. */
  digestedData: "1.2.840.113549.1.7.5",
  /** id-ct-TSTInfo (RFC 3161 timestamp token content): `1.2.840.113549.1.9.16.1.4`. */
  tstInfo: "1.2.840.113549.1.9.16.1.4",

  // --- PKCS#9 / CMS attributes (RFC 5652 section 11) ---
  /** id-contentType attribute: `1.2.840.113549.1.9.3`. */
  contentType: "1.2.840.113549.1.9.3",
  /** id-messageDigest attribute: `1.2.840.113549.1.9.4`. */
  messageDigest: "1.2.840.113549.1.9.4",
  /** id-signingTime attribute: `1.2.840.113549.1.9.5`. */
  signingTime: "1.2.840.113549.1.9.5",
  /** id-countersignature attribute: `1.2.840.113549.1.9.6`. */
  counterSignature: "1.2.840.113549.1.9.6",
  /** PKCS#9 sequenceNumber attribute (used by osslsigncode in nested signatures): `1.2.840.113549.1.9.25.4`. */
  sequenceNumber: "1.2.840.113549.1.9.25.4",
  /** S/MIME capabilities attribute: `1.2.840.113549.1.9.15`. */
  smimeCapabilities: "1.2.840.113549.1.9.15",
  /** ESS signing-certificate-v2 attribute (RFC 5035): `1.2.840.113549.1.9.16.2.47`. */
  signingCertificateV2: "1.2.840.113549.1.9.16.2.47",
  /** ESS signing-certificate attribute (RFC 2634): `1.2.840.113549.1.9.16.2.12`. */
  signingCertificate: "1.2.840.113549.1.9.16.2.12",

  // --- Microsoft Authenticode ---
  /** SPC_INDIRECT_DATA_OBJID (SpcIndirectDataContent): `1.3.6.1.4.1.311.2.1.4`. */
  spcIndirectDataContent: "1.3.6.1.4.1.311.2.1.4",
  /** SPC_STATEMENT_TYPE_OBJID: `1.3.6.1.4.1.311.2.1.11`. */
  spcStatementType: "1.3.6.1.4.1.311.2.1.11",
  /** SPC_SP_OPUS_INFO_OBJID (program name / more-info URL): `1.3.6.1.4.1.311.2.1.12`. */
  spcSpOpusInfo: "1.3.6.1.4.1.311.2.1.12",
  /** SPC_PE_IMAGE_DATAOBJ (SpcPeImageData): `1.3.6.1.4.1.311.2.1.15`. */
  spcPeImageData: "1.3.6.1.4.1.311.2.1.15",
  /** SPC_CAB_DATA_OBJID: `1.3.6.1.4.1.311.2.1.25`. */
  spcCabData: "1.3.6.1.4.1.311.2.1.25",
  /** SPC_SIPINFO_OBJID (scripts, MSI, ...): `1.3.6.1.4.1.311.2.1.30`. */
  spcSipInfo: "1.3.6.1.4.1.311.2.1.30",
  /** SPC_INDIVIDUAL_SP_KEY_PURPOSE_OBJID: `1.3.6.1.4.1.311.2.1.21`. */
  spcIndividualSpKeyPurpose: "1.3.6.1.4.1.311.2.1.21",
  /** SPC_COMMERCIAL_SP_KEY_PURPOSE_OBJID: `1.3.6.1.4.1.311.2.1.22`. */
  spcCommercialSpKeyPurpose: "1.3.6.1.4.1.311.2.1.22",
  /** szOID_NESTED_SIGNATURE (an extra, nested Authenticode signature): `1.3.6.1.4.1.311.2.4.1`. */
  nestedSignature: "1.3.6.1.4.1.311.2.4.1",
  /** szOID_RFC3161_counterSign (Microsoft's RFC 3161 timestamp attribute): `1.3.6.1.4.1.311.3.3.1`. */
  rfc3161Timestamp: "1.3.6.1.4.1.311.3.3.1",
  /** szOID_PLATFORM_MANIFEST_BINARY_ID: `1.3.6.1.4.1.311.10.3.28`. */
  platformManifestBinaryId: "1.3.6.1.4.1.311.10.3.28",

  // --- Digest algorithms ---
  /** MD5: `1.2.840.113549.2.5`. */
  md5: "1.2.840.113549.2.5",
  /** SHA-1 (OIW): `1.3.14.3.2.26`. */
  sha1: "1.3.14.3.2.26",
  /** SHA-256 (NIST): `2.16.840.1.101.3.4.2.1`. */
  sha256: "2.16.840.1.101.3.4.2.1",
  /** SHA-384 (NIST): `2.16.840.1.101.3.4.2.2`. */
  sha384: "2.16.840.1.101.3.4.2.2",
  /** SHA-512 (NIST): `2.16.840.1.101.3.4.2.3`. */
  sha512: "2.16.840.1.101.3.4.2.3",
  /** SHA-224 (NIST): `2.16.840.1.101.3.4.2.4`. */
  sha224: "2.16.840.1.101.3.4.2.4",

  // --- Signature / public-key algorithms (RFC 8017, RFC 5758, RFC 8410) ---
  /** rsaEncryption: `1.2.840.113549.1.1.1`. */
  rsaEncryption: "1.2.840.113549.1.1.1",
  /** md5WithRSAEncryption: `1.2.840.113549.1.1.4`. */
  md5WithRSAEncryption: "1.2.840.113549.1.1.4",
  /** sha1WithRSAEncryption: `1.2.840.113549.1.1.5`. */
  sha1WithRSAEncryption: "1.2.840.113549.1.1.5",
  /** id-RSASSA-PSS: `1.2.840.113549.1.1.10`. */
  rsassaPss: "1.2.840.113549.1.1.10",
  /** sha256WithRSAEncryption: `1.2.840.113549.1.1.11`. */
  sha256WithRSAEncryption: "1.2.840.113549.1.1.11",
  /** sha384WithRSAEncryption: `1.2.840.113549.1.1.12`. */
  sha384WithRSAEncryption: "1.2.840.113549.1.1.12",
  /** sha512WithRSAEncryption: `1.2.840.113549.1.1.13`. */
  sha512WithRSAEncryption: "1.2.840.113549.1.1.13",
  /** sha224WithRSAEncryption: `1.2.840.113549.1.1.14`. */
  sha224WithRSAEncryption: "1.2.840.113549.1.1.14",
  /** id-ecPublicKey: `1.2.840.10045.2.1`. */
  ecPublicKey: "1.2.840.10045.2.1",
  /** ecdsa-with-SHA1: `1.2.840.10045.4.1`. */
  ecdsaWithSHA1: "1.2.840.10045.4.1",
  /** ecdsa-with-SHA256: `1.2.840.10045.4.3.2`. */
  ecdsaWithSHA256: "1.2.840.10045.4.3.2",
  /** ecdsa-with-SHA384: `1.2.840.10045.4.3.3`. */
  ecdsaWithSHA384: "1.2.840.10045.4.3.3",
  /** ecdsa-with-SHA512: `1.2.840.10045.4.3.4`. */
  ecdsaWithSHA512: "1.2.840.10045.4.3.4",
  /** id-Ed25519: `1.3.101.112`. */
  ed25519: "1.3.101.112",
  /** id-Ed448: `1.3.101.113`. */
  ed448: "1.3.101.113",
  /** secp256r1 / prime256v1 named curve: `1.2.840.10045.3.1.7`. */
  secp256r1: "1.2.840.10045.3.1.7",
  /** secp384r1 named curve: `1.3.132.0.34`. */
  secp384r1: "1.3.132.0.34",
  /** secp521r1 named curve: `1.3.132.0.35`. */
  secp521r1: "1.3.132.0.35",

  // --- X.520 / PKCS#9 name attributes (RFC 5280 appendix A) ---
  /** id-at-commonName: `2.5.4.3`. */
  commonName: "2.5.4.3",
  /** id-at-surname: `2.5.4.4`. */
  surname: "2.5.4.4",
  /** id-at-serialNumber: `2.5.4.5`. */
  serialNumber: "2.5.4.5",
  /** id-at-countryName: `2.5.4.6`. */
  countryName: "2.5.4.6",
  /** id-at-localityName: `2.5.4.7`. */
  localityName: "2.5.4.7",
  /** id-at-stateOrProvinceName: `2.5.4.8`. */
  stateOrProvinceName: "2.5.4.8",
  /** id-at-streetAddress: `2.5.4.9`. */
  streetAddress: "2.5.4.9",
  /** id-at-organizationName: `2.5.4.10`. */
  organizationName: "2.5.4.10",
  /** id-at-organizationalUnitName: `2.5.4.11`. */
  organizationalUnitName: "2.5.4.11",
  /** id-at-title: `2.5.4.12`. */
  title: "2.5.4.12",
  /** id-at-givenName: `2.5.4.42`. */
  givenName: "2.5.4.42",
  /** id-at-organizationIdentifier: `2.5.4.97`. */
  organizationIdentifier: "2.5.4.97",
  /** PKCS#9 emailAddress (legacy, in DNs): `1.2.840.113549.1.9.1`. */
  emailAddress: "1.2.840.113549.1.9.1",
  /** domainComponent (RFC 4519): `0.9.2342.19200300.100.1.25`. */
  domainComponent: "0.9.2342.19200300.100.1.25",
  /** userId (RFC 4519): `0.9.2342.19200300.100.1.1`. */
  userId: "0.9.2342.19200300.100.1.1",

  // --- X.509 v3 extensions (RFC 5280 section 4.2) ---
  /** id-ce-subjectKeyIdentifier: `2.5.29.14`. */
  subjectKeyIdentifier: "2.5.29.14",
  /** id-ce-keyUsage: `2.5.29.15`. */
  keyUsage: "2.5.29.15",
  /** id-ce-subjectAltName: `2.5.29.17`. */
  subjectAltName: "2.5.29.17",
  /** id-ce-basicConstraints: `2.5.29.19`. */
  basicConstraints: "2.5.29.19",
  /** id-ce-cRLDistributionPoints: `2.5.29.31`. */
  crlDistributionPoints: "2.5.29.31",
  /** id-ce-certificatePolicies: `2.5.29.32`. */
  certificatePolicies: "2.5.29.32",
  /** id-ce-authorityKeyIdentifier: `2.5.29.35`. */
  authorityKeyIdentifier: "2.5.29.35",
  /** id-ce-extKeyUsage: `2.5.29.37`. */
  extKeyUsage: "2.5.29.37",
  /** id-pe-authorityInfoAccess: `1.3.6.1.5.5.7.1.1`. */
  authorityInfoAccess: "1.3.6.1.5.5.7.1.1",
  /** id-kp-codeSigning: `1.3.6.1.5.5.7.3.3`. */
  codeSigning: "1.3.6.1.5.5.7.3.3",
  /** id-kp-timeStamping: `1.3.6.1.5.5.7.3.8`. */
  timeStamping: "1.3.6.1.5.5.7.3.8",
} as const;

/** A stable short name of a known OID (a key of {@link OID}). */
export type OidName = keyof typeof OID;

const BY_OID: ReadonlyMap<string, OidName> = new Map(
  (Object.keys(OID) as OidName[]).map((name) => [OID[name], name] as const),
);

/**
 * The short name of a dotted OID (a key of {@link OID}), or `undefined` when
 * kimage does not know it.
 *
 * @example `oidName("2.16.840.1.101.3.4.2.1") === "sha256"`
 */
export function oidName(oid: string): OidName | undefined {
  return BY_OID.get(oid);
}

/** The short name of a dotted OID, or the dotted OID itself when unknown. */
export function oidLabel(oid: string): string {
  return BY_OID.get(oid) ?? oid;
}

/** Digest algorithms Authenticode images are signed with. */
export type DigestName = "md5" | "sha1" | "sha224" | "sha256" | "sha384" | "sha512";

const DIGESTS: ReadonlyMap<string, DigestName> = new Map<string, DigestName>([
  [OID.md5, "md5"],
  [OID.sha1, "sha1"],
  [OID.sha224, "sha224"],
  [OID.sha256, "sha256"],
  [OID.sha384, "sha384"],
  [OID.sha512, "sha512"],
]);

/** Output size in bytes of each {@link DigestName}. */
export const DIGEST_SIZES: Readonly<Record<DigestName, number>> = {
  md5: 16,
  sha1: 20,
  sha224: 28,
  sha256: 32,
  sha384: 48,
  sha512: 64,
};

/** The {@link DigestName} of a digest-algorithm OID, or `undefined` if not a known digest. */
export function digestNameOf(oid: string): DigestName | undefined {
  return DIGESTS.get(oid);
}

/**
 * RFC 4514 / OpenSSL short labels of distinguished-name attribute types, used
 * when rendering a Name as a string. Types not listed are rendered as their
 * dotted OID (RFC 4514 section 2.3).
 */
export const DN_LABELS: Readonly<Record<string, string>> = {
  [OID.commonName]: "CN",
  [OID.surname]: "SN",
  [OID.serialNumber]: "serialNumber",
  [OID.countryName]: "C",
  [OID.localityName]: "L",
  [OID.stateOrProvinceName]: "ST",
  [OID.streetAddress]: "STREET",
  [OID.organizationName]: "O",
  [OID.organizationalUnitName]: "OU",
  [OID.title]: "title",
  [OID.givenName]: "GN",
  [OID.organizationIdentifier]: "organizationIdentifier",
  [OID.emailAddress]: "emailAddress",
  [OID.domainComponent]: "DC",
  [OID.userId]: "UID",
};

/** The DN label of an attribute type (`"CN"`, `"O"`, ...), or `undefined` if unknown. */
export function dnAttributeLabel(oid: string): string | undefined {
  return DN_LABELS[oid];
}
