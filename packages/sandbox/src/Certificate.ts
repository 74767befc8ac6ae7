/**
 * A self-signed X.509 certificate for the sandbox's `https` mode, built without dependencies:
 * an ECDSA P-256 key from `node:crypto` and a few lines of DER. It names `localhost`,
 * `127.0.0.1` and `::1`, so a client that trusts this one certificate (and nothing else) can
 * exercise real TLS validation against the sandbox.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { generateKeyPairSync, getRandomValues, sign } from "node:crypto"

/**
 * A PEM key and certificate pair for the sandbox's https server.
 *
 * @since 0.1.0
 * @category models
 */
export interface KeyAndCertificate {
  /** PKCS#8 private key, PEM. */
  readonly key: string
  /** X.509 certificate, PEM: give it to a client as its only trusted CA. */
  readonly cert: string
}

// A minimal DER writer: just the types an X.509 certificate needs.

const length = (n: number): Array<number> => {
  if (n < 0x80) return [n]
  const bytes: Array<number> = []
  for (let rest = n; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256)
  return [0x80 | bytes.length, ...bytes]
}
const tlv = (tag: number, content: Uint8Array | ReadonlyArray<number>): Uint8Array =>
  Uint8Array.from([tag, ...length(content.length), ...content])
const concat = (...parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}
const sequence = (...items: ReadonlyArray<Uint8Array>) => tlv(0x30, concat(...items))
const set = (...items: ReadonlyArray<Uint8Array>) => tlv(0x31, concat(...items))
const explicit = (n: number, item: Uint8Array) => tlv(0xa0 + n, item)
const integer = (bytes: Uint8Array) =>
  tlv(0x02, bytes[0] !== undefined && bytes[0] >= 0x80 ? [0, ...bytes] : bytes)
const boolean = (value: boolean) => tlv(0x01, [value ? 0xff : 0])
const octets = (bytes: Uint8Array) => tlv(0x04, bytes)
const bits = (bytes: Uint8Array, unused = 0) => tlv(0x03, [unused, ...bytes])
const utf8 = (s: string) => tlv(0x0c, new TextEncoder().encode(s))
const utcTime = (s: string) => tlv(0x17, new TextEncoder().encode(s))
const oid = (dotted: string) => {
  const [a = 0, b = 0, ...rest] = dotted.split(".").map(Number)
  const body = [40 * a + b]
  for (const arc of rest) {
    const chunk: Array<number> = [arc & 0x7f]
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift(0x80 | (v & 0x7f))
    body.push(...chunk)
  }
  return tlv(0x06, body)
}

const ecdsaWithSha256 = sequence(oid("1.2.840.10045.4.3.2"))
const name = (commonName: string) => sequence(set(sequence(oid("2.5.4.3"), utf8(commonName))))
const extension = (id: string, critical: boolean, value: Uint8Array) =>
  sequence(oid(id), ...(critical ? [boolean(true)] : []), octets(value))

const subjectAltNames = sequence(
  tlv(0x82, new TextEncoder().encode("localhost")), // dNSName
  tlv(0x87, [127, 0, 0, 1]), // iPAddress 127.0.0.1
  tlv(0x87, [...new Array<number>(15).fill(0), 1]) // iPAddress ::1
)

const pem = (label: string, der: Uint8Array) => {
  const lines =
    Buffer.from(der)
      .toString("base64")
      .match(/.{1,64}/g) ?? []
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`
}

/**
 * Generates a fresh key and a self-signed certificate for `localhost`, `127.0.0.1` and `::1`.
 * Its validity is fixed (2000 to 2049) rather than read from a clock: the TLS peer checks it
 * against the wall clock, which a test's `TestClock` does not move.
 *
 * @since 0.1.0
 * @category constructors
 */
export const selfSigned: Effect.Effect<KeyAndCertificate> = Effect.sync(() => {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" })
  const serial = getRandomValues(new Uint8Array(16))
  serial[0] = (serial[0] ?? 0) & 0x7f || 1 // positive, and no leading zero byte
  const issuer = name("MobilePay sandbox (offline)")
  const tbs = sequence(
    explicit(0, integer(Uint8Array.from([2]))), // v3
    integer(serial),
    ecdsaWithSha256,
    issuer,
    sequence(utcTime("000101000000Z"), utcTime("491231235959Z")),
    issuer,
    new Uint8Array(publicKey.export({ type: "spki", format: "der" })),
    explicit(
      3,
      sequence(
        extension("2.5.29.19", true, sequence(boolean(true))), // basicConstraints CA:TRUE
        extension("2.5.29.15", true, bits(Uint8Array.from([0x84]), 2)), // digitalSignature, keyCertSign
        extension("2.5.29.37", false, sequence(oid("1.3.6.1.5.5.7.3.1"))), // extKeyUsage serverAuth
        extension("2.5.29.17", false, subjectAltNames)
      )
    )
  )
  const signature = new Uint8Array(sign("sha256", tbs, privateKey))
  return {
    key: String(privateKey.export({ type: "pkcs8", format: "pem" })),
    cert: pem("CERTIFICATE", sequence(tbs, ecdsaWithSha256, bits(signature)))
  }
})
