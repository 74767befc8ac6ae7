/**
 * Encryption at rest: AES-256-GCM through WebCrypto. Every sealed value names the key that
 * sealed it and is bound to its record key as associated data, so a ciphertext copied to
 * another record does not open. Several keys can be configured: the first seals, all open,
 * which is how keys rotate. A retired key makes old backups unreadable.
 *
 * @since 0.1.0
 */
import { AuthError, SecureRandom } from "@mobilepay-auth/domain"
import { Array as Arr, Config, ConfigError, Context, Effect, Encoding, Either, Layer, Redacted } from "effect"

/**
 * A key as configured: an id (stored beside each ciphertext) and 32 bytes, base64 encoded.
 *
 * @since 0.1.0
 * @category models
 */
export interface KeyMaterial {
  readonly id: string
  readonly secret: Redacted.Redacted<string>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class TokenCipher extends Context.Tag("@mobilepay-auth/platform/TokenCipher")<
  TokenCipher,
  TokenCipher.Service
>() {}

/**
 * @since 0.1.0
 */
export declare namespace TokenCipher {
  /**
   * @since 0.1.0
   * @category models
   */
  export interface Service {
    /** Id of the key that seals new values. */
    readonly currentKeyId: string
    readonly seal: (plaintext: string, associatedData: string) => Effect.Effect<string>
    readonly open: (sealed: string, associatedData: string) => Effect.Effect<string, AuthError.StoreFailure>
    /** The id of the key that sealed a value (to find values that need re-sealing). */
    readonly keyIdOf: (sealed: string) => string | undefined
  }
}

const PREFIX = "v1"
const decryptFailure = (description: string) =>
  new AuthError.StoreFailure({ operation: "decrypt", reason: "decrypt", description })

// Why a key is unusable, checked without WebCrypto so configuration can fail at creation.
const keyProblem = (material: KeyMaterial): string | undefined => {
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(material.id)) return "id must be 1-32 characters of [A-Za-z0-9_-]"
  const decoded = Encoding.decodeBase64(Redacted.value(material.secret))
  if (Either.isLeft(decoded)) return "is not base64"
  if (decoded.right.length !== 32) return "must be 32 bytes (AES-256)"
  return undefined
}

/**
 * Checks keys as `make` will use them (id syntax, base64, 32 bytes, no id twice), without
 * importing them: for configuration that must fail when it is read. The message names the
 * key by id (a malformed id is cut to 32 characters) and never echoes the secret.
 *
 * @since 0.1.0
 * @category parsing
 */
export const checkKeys = (
  keys: Arr.NonEmptyReadonlyArray<KeyMaterial>
): Either.Either<Arr.NonEmptyReadonlyArray<KeyMaterial>, string> => {
  const seen = new Set<string>()
  for (const key of keys) {
    const problem = keyProblem(key)
    if (problem !== undefined) return Either.left(`encryption key "${key.id.slice(0, 32)}" ${problem}`)
    if (seen.has(key.id)) return Either.left(`encryption key "${key.id}" is given twice`)
    seen.add(key.id)
  }
  return Either.right(keys)
}

const importKey = (material: KeyMaterial) =>
  Effect.gen(function* () {
    const problem = keyProblem(material)
    if (problem !== undefined) return yield* Effect.fail(keyError(material.id.slice(0, 32), problem))
    const raw = new Uint8Array(Either.getOrThrow(Encoding.decodeBase64(Redacted.value(material.secret))))
    const key = yield* Effect.promise(() =>
      globalThis.crypto.subtle.importKey("raw", raw, { name: "AES-GCM" }, false, ["encrypt", "decrypt"])
    )
    return [material.id, key] as const
  })

const keyError = (id: string, why: string) =>
  new AuthError.InvalidRequest({
    code: "invalid_encryption_key",
    description: `encryption key "${id}" ${why}`
  })

/**
 * A cipher from keys; the first one seals. Fails with `InvalidRequest` (code
 * `invalid_encryption_key`) when a key is malformed, without echoing it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  keys: Arr.NonEmptyReadonlyArray<KeyMaterial>
): Effect.Effect<TokenCipher.Service, AuthError.InvalidRequest> =>
  Effect.gen(function* () {
    const random = yield* SecureRandom.SecureRandom
    const imported = new Map(yield* Effect.forEach(keys, importKey))
    const currentKeyId = Arr.headNonEmpty(keys).id
    const current = imported.get(currentKeyId)
    if (current === undefined) return yield* Effect.die("unreachable: current key missing")
    const encoder = new TextEncoder()
    const decoder = new TextDecoder("utf-8", { fatal: true })

    const seal = (plaintext: string, associatedData: string) =>
      Effect.gen(function* () {
        const iv = yield* random.bytes(12)
        const ciphertext = yield* Effect.promise(() =>
          globalThis.crypto.subtle.encrypt(
            { name: "AES-GCM", iv, additionalData: encoder.encode(associatedData) },
            current,
            encoder.encode(plaintext)
          )
        )
        return [
          PREFIX,
          currentKeyId,
          Encoding.encodeBase64Url(iv),
          Encoding.encodeBase64Url(new Uint8Array(ciphertext))
        ].join(".")
      })

    const open = (sealed: string, associatedData: string) =>
      Effect.gen(function* () {
        const parts = sealed.split(".")
        const [prefix, kid, ivText, ctText] = parts
        if (
          parts.length !== 4 ||
          prefix !== PREFIX ||
          kid === undefined ||
          ivText === undefined ||
          ctText === undefined
        ) {
          return yield* Effect.fail(decryptFailure("not a sealed value"))
        }
        const key = imported.get(kid)
        if (key === undefined) return yield* Effect.fail(decryptFailure(`sealed with unknown key "${kid}"`))
        const iv = Encoding.decodeBase64Url(ivText)
        const ct = Encoding.decodeBase64Url(ctText)
        if (Either.isLeft(iv) || Either.isLeft(ct))
          return yield* Effect.fail(decryptFailure("malformed sealed value"))
        const plain = yield* Effect.tryPromise({
          try: () =>
            globalThis.crypto.subtle.decrypt(
              {
                name: "AES-GCM",
                iv: new Uint8Array(iv.right),
                additionalData: encoder.encode(associatedData)
              },
              key,
              new Uint8Array(ct.right)
            ),
          catch: () => decryptFailure("authentication failed (wrong key, or moved or altered record)")
        })
        return yield* Effect.try({
          try: () => decoder.decode(plain),
          catch: () => decryptFailure("not UTF-8")
        })
      })

    return TokenCipher.of({
      currentKeyId,
      seal,
      open,
      keyIdOf: (sealed) => {
        const parts = sealed.split(".")
        return parts[0] === PREFIX ? parts[1] : undefined
      }
    })
  })

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  keys: Arr.NonEmptyReadonlyArray<KeyMaterial>
): Layer.Layer<TokenCipher, AuthError.InvalidRequest> => Layer.effect(TokenCipher, make(keys))

/**
 * Parses `id:base64,id2:base64` (first seals; the rest only open).
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseKeyList = (
  text: Redacted.Redacted<string>
): Either.Either<Arr.NonEmptyReadonlyArray<KeyMaterial>, string> => {
  const entries = Redacted.value(text)
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
  const keys: Array<KeyMaterial> = []
  for (const [i, entry] of entries.entries()) {
    const at = entry.indexOf(":")
    if (at <= 0) return Either.left(`entry ${i + 1} is not id:base64key`)
    keys.push({ id: entry.slice(0, at), secret: Redacted.make(entry.slice(at + 1)) })
  }
  return Arr.isNonEmptyReadonlyArray(keys) ? Either.right(keys) : Either.left("no key given")
}

/**
 * Keys from `Config` (by default `MOBILEPAY_ENCRYPTION_KEYS`, `id:base64,...`). A malformed
 * value fails naming the setting, never echoing it.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  name = "MOBILEPAY_ENCRYPTION_KEYS"
): Layer.Layer<TokenCipher, AuthError.InvalidRequest | ConfigError.ConfigError> =>
  Layer.effect(
    TokenCipher,
    Effect.flatMap(
      Config.redacted(name).pipe(
        Config.mapOrFail((text) =>
          Either.mapLeft(parseKeyList(text), (why) => ConfigError.InvalidData([], `${name}: ${why}`))
        )
      ),
      make
    )
  )

/**
 * A fresh random 32-byte key, base64 encoded, for `MOBILEPAY_ENCRYPTION_KEYS`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const generateKey: Effect.Effect<Redacted.Redacted<string>> = Effect.map(
  Effect.flatMap(SecureRandom.SecureRandom, (r) => r.bytes(32)),
  (bytes) => Redacted.make(Encoding.encodeBase64(bytes))
)
