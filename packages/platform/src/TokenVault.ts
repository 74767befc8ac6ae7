/**
 * Typed, encrypted records on a `TokenStore`: values are encoded with a Schema, sealed by
 * the `TokenCipher` with the record key as associated data, and only then handed to the
 * store. This is the only way the toolkit writes to a store.
 *
 * @since 0.1.0
 */
import { AuthError } from "@mobilepay-auth/domain"
import { Context, Effect, Layer, Option, ParseResult, Schema } from "effect"
import * as TokenCipher from "./TokenCipher.js"
import * as TokenStore from "./TokenStore.js"

/**
 * A decoded record and the version to pass to the next compare-and-set write.
 *
 * @since 0.1.0
 * @category models
 */
export interface Versioned<A> {
  readonly value: A
  readonly version: number
  readonly updatedAt: number
}

/**
 * @since 0.1.0
 * @category tags
 */
export class TokenVault extends Context.Tag("@mobilepay-auth/platform/TokenVault")<
  TokenVault,
  TokenVault.Service
>() {}

/**
 * @since 0.1.0
 */
export declare namespace TokenVault {
  /**
   * @since 0.1.0
   * @category models
   */
  export interface Service {
    readonly store: TokenStore.TokenStore.Service
    readonly get: <A, I>(
      schema: Schema.Schema<A, I>,
      key: string
    ) => Effect.Effect<Option.Option<Versioned<A>>, AuthError.StoreFailure>
    readonly put: <A, I>(
      schema: Schema.Schema<A, I>,
      key: string,
      value: A,
      options: { readonly expectedVersion: number; readonly expiresAt?: number }
    ) => Effect.Effect<number, AuthError.StoreFailure>
    /** Single-use read: the record is deleted as it is read. */
    readonly take: <A, I>(
      schema: Schema.Schema<A, I>,
      key: string
    ) => Effect.Effect<Option.Option<A>, AuthError.StoreFailure>
    /** Re-seals every record under `prefix` that an older key sealed; returns how many. */
    readonly reseal: (prefix: string) => Effect.Effect<number, AuthError.StoreFailure>
  }
}

const corrupt = (key: string, error: ParseResult.ParseError) =>
  new AuthError.StoreFailure({
    operation: "decode",
    reason: "corrupt",
    description: `record ${key}: ${ParseResult.ArrayFormatter.formatErrorSync(error)
      .map((i) => `${i.path.join(".")}: ${i._tag}`)
      .join("; ")}`
  })

/**
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<TokenVault.Service, never, TokenStore.TokenStore | TokenCipher.TokenCipher> =
  Effect.gen(function* () {
    const store = yield* TokenStore.TokenStore
    const cipher = yield* TokenCipher.TokenCipher

    const decode = <A, I>(schema: Schema.Schema<A, I>, key: string, sealed: string) =>
      cipher.open(sealed, key).pipe(
        Effect.flatMap((json) => Schema.decode(Schema.parseJson(schema))(json)),
        Effect.catchTag("ParseError", (e) => Effect.fail(corrupt(key, e)))
      )

    const seal = <A, I>(schema: Schema.Schema<A, I>, key: string, value: A) =>
      Schema.encode(Schema.parseJson(schema))(value).pipe(
        Effect.catchTag("ParseError", (e) => Effect.fail(corrupt(key, e))),
        Effect.flatMap((json) => cipher.seal(json, key))
      )

    return TokenVault.of({
      store,
      get: (schema, key) =>
        Effect.flatMap(store.get(key), (record) =>
          Option.match(record, {
            onNone: () => Effect.succeedNone,
            onSome: (r) =>
              Effect.map(decode(schema, key, r.value), (value) =>
                Option.some({ value, version: r.version, updatedAt: r.updatedAt })
              )
          })
        ),
      put: (schema, key, value, options) =>
        Effect.flatMap(seal(schema, key, value), (sealed) => store.put(key, sealed, options)),
      take: (schema, key) =>
        Effect.flatMap(store.take(key), (record) =>
          Option.match(record, {
            onNone: () => Effect.succeedNone,
            onSome: (r) => Effect.map(decode(schema, key, r.value), Option.some)
          })
        ),
      reseal: (prefix) =>
        Effect.gen(function* () {
          let count = 0
          for (const key of yield* store.list(prefix)) {
            const record = yield* store.get(key)
            if (Option.isNone(record) || cipher.keyIdOf(record.value.value) === cipher.currentKeyId) continue
            const plain = yield* cipher.open(record.value.value, key)
            const sealed = yield* cipher.seal(plain, key)
            const options = Option.match(record.value.expiresAt, {
              onNone: () => ({ expectedVersion: record.value.version }),
              onSome: (expiresAt) => ({ expectedVersion: record.value.version, expiresAt })
            })
            yield* store.put(key, sealed, options)
            count++
          }
          return count
        })
    })
  })

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<TokenVault, never, TokenStore.TokenStore | TokenCipher.TokenCipher> =
  Layer.effect(TokenVault, make)

/**
 * A vault on the in-memory store with a fresh random key: for tests and one-off tools.
 * Nothing survives the process, as nothing could be decrypted after it anyway.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerEphemeral: Layer.Layer<TokenVault> = Layer.unwrapEffect(
  Effect.gen(function* () {
    const secret = yield* TokenCipher.generateKey
    const cipher = yield* Effect.orDie(TokenCipher.make([{ id: "ephemeral", secret }]))
    const store = yield* TokenStore.makeMemory
    return layer.pipe(
      Layer.provide(Layer.succeed(TokenCipher.TokenCipher, cipher)),
      Layer.provide(Layer.succeed(TokenStore.TokenStore, store))
    )
  })
)
