/**
 * The private key fhir-risk signs SMART Backend Services client assertions with, and the public
 * JWK Set the EHR's authorization server verifies them with (`GET /.well-known/jwks.json`).
 *
 * Everything here is synchronous (node:crypto), so `loadConfig` can reject a bad key at start-up
 * with one line per problem, and the JWKS is ready before the HTTP server listens.
 */
import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** Signature algorithms SMART Backend Services requires servers to support. */
export const SIGNING_ALGS = ['RS384', 'ES384'] as const;
export type SigningAlg = (typeof SIGNING_ALGS)[number];

/** The public members of an RSA or P-384 EC key, plus the JWKS metadata. Never a private member. */
export type PublicSigningJwk =
  | { kty: 'RSA'; n: string; e: string; kid: string; alg: SigningAlg; use: 'sig' }
  | { kty: 'EC'; crv: 'P-384'; x: string; y: string; kid: string; alg: SigningAlg; use: 'sig' };

/** What `GET /.well-known/jwks.json` serves. */
export interface PublicJwks {
  keys: PublicSigningJwk[];
}

/** A validated signing key. `privateKey` is a KeyObject: it serializes as `{}`, so a logged config leaks nothing. */
export interface SigningKey {
  readonly alg: SigningAlg;
  /** The `kid` header of every assertion and of the published JWK. */
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly publicJwk: PublicSigningJwk;
}

/** The key's source as configured: exactly one of `pem` / `file`. */
export interface SigningKeyInput {
  /** `FHIR_PRIVATE_KEY`: PEM text; `\n` escapes (one-line env values) are accepted. */
  pem?: string | undefined;
  /** `FHIR_PRIVATE_KEY_FILE`: path of a PEM file (a mounted Kubernetes secret). */
  file?: string | undefined;
  alg: SigningAlg;
  /** `FHIR_KEY_ID`; default: the RFC 7638 thumbprint of the public key. */
  kid?: string | undefined;
}

/** Smallest RSA modulus we sign with; servers (Epic included) refuse smaller keys. */
const MIN_RSA_BITS = 2048;

/**
 * Reads and validates the configured key. Returns the key, or problem lines named after the
 * variable to fix (the `loadConfig` style). Problem text never contains key material.
 */
export function signingKeyFromConfig(input: SigningKeyInput): { key: SigningKey; problems?: undefined } | { key?: undefined; problems: string[] } {
  if (input.pem && input.file) {
    return { problems: ['FHIR_PRIVATE_KEY_FILE: set either FHIR_PRIVATE_KEY or FHIR_PRIVATE_KEY_FILE, not both'] };
  }
  if (!input.pem && !input.file) {
    return { problems: ['FHIR_PRIVATE_KEY: required when FHIR_AUTH=smart-backend (PEM PKCS#8 text, or a file path in FHIR_PRIVATE_KEY_FILE)'] };
  }
  const source = input.pem ? 'FHIR_PRIVATE_KEY' : 'FHIR_PRIVATE_KEY_FILE';
  let pem: string;
  if (input.pem) {
    pem = input.pem.replace(/\\n/g, '\n');
  } else {
    try {
      pem = readFileSync(input.file!, 'utf8');
    } catch (err) {
      return { problems: [`FHIR_PRIVATE_KEY_FILE: cannot read ${input.file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`] };
    }
  }
  const parsed = parsePrivateKey(pem, source);
  if (typeof parsed === 'string') return { problems: [parsed] };
  const mismatch = algMismatch(parsed, input.alg, source);
  if (mismatch) return { problems: [mismatch] };
  return { key: signingKey(parsed, input.alg, input.kid) };
}

/** Builds a SigningKey from a validated private key (tests use it with generated keys). */
export function signingKey(privateKey: KeyObject, alg: SigningAlg, kid?: string): SigningKey {
  const publicMembers = publicMembersOf(privateKey);
  const resolvedKid = kid ?? jwkThumbprint(publicMembers);
  return { alg, kid: resolvedKid, privateKey, publicJwk: { ...publicMembers, kid: resolvedKid, alg, use: 'sig' } };
}

/** The JWK Set to publish for the key. */
export function publicJwks(key: SigningKey): PublicJwks {
  return { keys: [key.publicJwk] };
}

/** RFC 7638 JWK thumbprint (SHA-256, base64url) of the required public members, in lexicographic order. */
export function jwkThumbprint(jwk: PublicMembers): string {
  const canonical =
    jwk.kty === 'RSA'
      ? JSON.stringify({ e: jwk.e, kty: jwk.kty, n: jwk.n })
      : JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  return createHash('sha256').update(canonical).digest('base64url');
}

type PublicMembers = { kty: 'RSA'; n: string; e: string } | { kty: 'EC'; crv: 'P-384'; x: string; y: string };

/** Copies only the named public members: derived from the public key, and allow-listed as well. */
function publicMembersOf(privateKey: KeyObject): PublicMembers {
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
  if (jwk.kty === 'RSA') return { kty: 'RSA', n: jwk.n!, e: jwk.e! };
  return { kty: 'EC', crv: 'P-384', x: jwk.x!, y: jwk.y! };
}

function parsePrivateKey(pem: string, source: string): KeyObject | string {
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----/.test(pem)) {
    return `${source}: encrypted keys are not supported; decrypt it (openssl pkcs8 -topk8 -nocrypt)`;
  }
  if (/-----BEGIN (PUBLIC KEY|RSA PUBLIC KEY|CERTIFICATE)-----/.test(pem) && !/PRIVATE KEY-----/.test(pem)) {
    return `${source}: this is a public key or certificate; fhir-risk needs the private key (PEM PKCS#8)`;
  }
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) {
    return `${source}: not a PEM private key (expected -----BEGIN PRIVATE KEY-----, PKCS#8)`;
  }
  try {
    return createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    // OpenSSL's message ("DECODER routines::unsupported") helps nobody; say what is expected.
    return `${source}: the PEM private key cannot be parsed (expected PKCS#8: openssl pkcs8 -topk8 -nocrypt)`;
  }
}

function describeKey(key: KeyObject): string {
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'rsa') return `an RSA ${details?.modulusLength ?? '?'}-bit key`;
  if (key.asymmetricKeyType === 'ec') return `an EC ${details?.namedCurve ?? '?'} key`;
  return `a ${key.asymmetricKeyType ?? 'unknown'} key`;
}

/** One problem line when the key cannot sign with `alg`; undefined when it fits. */
function algMismatch(key: KeyObject, alg: SigningAlg, source: string): string | undefined {
  if (alg === 'RS384') {
    if (key.asymmetricKeyType !== 'rsa') {
      return `FHIR_SIGNING_ALG: RS384 needs an RSA key, but ${source} is ${describeKey(key)} (set FHIR_SIGNING_ALG=ES384 for a P-384 key)`;
    }
    if ((key.asymmetricKeyDetails?.modulusLength ?? 0) < MIN_RSA_BITS) {
      return `${source}: ${describeKey(key)} is too short; use at least ${MIN_RSA_BITS} bits`;
    }
    return undefined;
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'secp384r1') {
    return `FHIR_SIGNING_ALG: ES384 needs an EC P-384 key, but ${source} is ${describeKey(key)}${key.asymmetricKeyType === 'rsa' ? ' (set FHIR_SIGNING_ALG=RS384 for an RSA key)' : ''}`;
  }
  return undefined;
}
