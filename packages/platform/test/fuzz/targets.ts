/**
 * Fuzz targets: every parser at a trust boundary, each with a fast-check arbitrary of hostile
 * inputs and a check of the only acceptable outcomes, a typed error or a valid value. Anything
 * else (an exception, an Effect defect, an untyped failure, a value that breaks an invariant,
 * a hang) is a defect. `pnpm fuzz` runs them at volume; `Fuzz.test.ts` runs a short round.
 */
import { AuthError, Environment, Scope, Token, Vat } from "@mobilepay-auth/domain"
import { ConfigProvider, Effect, Either, Encoding, Exit, Option, Redacted } from "effect"
import * as fc from "fast-check"
import * as oauth from "oauth4webapi"
import * as AuthHttp from "../../src/AuthHttp.js"
import * as Discovery from "../../src/Discovery.js"
import { GrantSchema } from "../../src/Grant.js"
import * as OAuth from "../../src/internal/oauth.js"
import * as Consent from "../../src/internal/oauthConsent.js"
import * as MobilePayConfig from "../../src/MobilePayConfig.js"
import * as TokenCipher from "../../src/TokenCipher.js"
import * as TokenStore from "../../src/TokenStore.js"
import * as TokenVault from "../../src/TokenVault.js"

/** Thrown by a check when the outcome is not acceptable. */
export class Defect extends Error {}

export interface Target<A> {
  readonly name: string
  readonly boundary: string
  readonly arbitrary: fc.Arbitrary<A>
  /** Resolves when the outcome is acceptable; throws (or rejects with) a `Defect` otherwise. */
  readonly check: (input: A) => void | Promise<void>
}

const authErrorTags = new Set([
  "InvalidClient",
  "UnauthorizedClient",
  "InvalidGrant",
  "InvalidScope",
  "InvalidRequest",
  "ConsentRequired",
  "Unauthorized",
  "RateLimited",
  "Transport",
  "ProtocolViolation",
  "IdTokenRejected",
  "StateMismatch",
  "InsecureEndpoint",
  "InvalidVat",
  "StoreFailure",
  "InvalidConfiguration"
])

const isTyped = (error: unknown): boolean =>
  typeof error === "object" && error !== null && authErrorTags.has(String((error as { _tag?: unknown })._tag))

const holds = <A>(option: Option.Option<A>, predicate: (a: A) => boolean): boolean =>
  Option.isNone(option) || predicate(option.value)

const expect = (condition: boolean, what: string) => {
  if (!condition) throw new Defect(what)
}

/** Runs an Effect: success or a typed failure is fine; a defect, interruption or untyped failure is not. */
const typedOrValue = async <A, E>(
  effect: Effect.Effect<A, E>,
  valid: (a: A) => void = () => {},
  typed: (e: E) => boolean = isTyped
) => {
  const exit = await Effect.runPromiseExit(effect)
  if (Exit.isSuccess(exit)) return valid(exit.value)
  const failure = exit.cause._tag === "Fail" ? Option.some(exit.cause.error) : Option.none()
  expect(Option.isSome(failure), `not a typed failure: ${exit.cause._tag}`)
  expect(typed(Option.getOrThrow(failure)), "failure is not a typed error")
}

// Strings that bend parsers: control characters, huge runs, unicode, URL and JSON punctuation.
const nasty = fc.oneof(
  fc.string(),
  fc.string({ unit: "binary", maxLength: 64 }),
  fc.constantFrom(
    "",
    " ",
    "\u0000",
    "\r\n",
    "%00",
    "%",
    "&",
    "=",
    "#",
    "?",
    "\\",
    "//",
    "..",
    "null",
    "1e309"
  ),
  fc.string({
    unit: fc.constantFrom("a", "=", "&", "%", "#", ";", " ", ".", "/", "\\", "\u0000"),
    maxLength: 200
  }),
  fc.nat({ max: 20_000 }).map((n) => "x".repeat(n))
)

// ---------------------------------------------------------------------------------------------
// Token responses (the token endpoint's JSON, after oauth4webapi)

const tokenLike = fc.record(
  {
    access_token: fc.oneof(
      nasty,
      fc.integer(),
      fc.constant(null),
      fc.nat({ max: 40_000 }).map((n) => "a".repeat(n))
    ),
    token_type: fc.oneof(fc.constantFrom("Bearer", "bearer", "BEARER", "mac", "dpop"), nasty),
    expires_in: fc.oneof(
      fc.double(),
      fc.integer(),
      fc.constantFrom("86398", "300", "-1", "0", "1e300", "Infinity", "NaN", 1e300, -0, Number.MAX_VALUE),
      nasty
    ),
    refresh_token: fc.oneof(
      nasty,
      fc.integer(),
      fc.nat({ max: 40_000 }).map((n) => "r".repeat(n))
    ),
    id_token: fc.oneof(nasty, fc.constant("a.b.c")),
    scope: fc.oneof(nasty, fc.array(fc.string()), fc.constant("openid offline_access invoice"))
  },
  { requiredKeys: [] }
)

const tokenResponse: Target<unknown> = {
  name: "token-response",
  boundary: "Token.decode: the token endpoint's JSON",
  arbitrary: fc.oneof(tokenLike, fc.anything()),
  check: (body) => {
    const now = 1_700_000_000_000
    const result = Token.decode(body, now)
    if (Either.isLeft(result)) {
      expect(result.left instanceof AuthError.ProtocolViolation, "decode failed with something else")
      return
    }
    const tokens = result.right
    expect(Number.isFinite(tokens.expiresAt), "expiresAt not finite")
    expect(
      tokens.expiresAt > now && tokens.expiresAt <= now + Token.maxLifetimeSeconds * 1000,
      "lifetime not clamped"
    )
    const access = Redacted.value(tokens.accessToken)
    expect(access.length > 0 && access.length <= Token.maxTokenLength, "access token unbounded")
    expect(
      holds(tokens.refreshToken, (r) => Redacted.value(r).length <= Token.maxTokenLength),
      "refresh unbounded"
    )
  }
}

// ---------------------------------------------------------------------------------------------
// OAuth error bodies (any endpoint's error answer), with a secret the server echoes

const errorBody: Target<{
  status: number
  body: unknown
  retryAfter: number | undefined
  secret: string
  echo: boolean
}> = {
  name: "oauth-error-body",
  boundary: "AuthError.fromOAuthErrorResponse: an endpoint's error answer",
  arbitrary: fc.record({
    status: fc.integer({ min: 100, max: 599 }),
    body: fc.oneof(
      fc.anything(),
      fc.record(
        {
          error: fc.oneof(
            fc.constantFrom("invalid_client", "invalid_grant", "invalid_scope", "unauthorized_client"),
            nasty
          ),
          error_description: fc.oneof(nasty, fc.integer())
        },
        { requiredKeys: [] }
      )
    ),
    retryAfter: fc.option(fc.nat(), { nil: undefined }),
    secret: fc.stringMatching(/^[A-Za-z0-9]{8,30}$/).map((s) => `S${s}`),
    echo: fc.boolean()
  }),
  check: ({ body, echo, retryAfter, secret, status }) => {
    const echoed =
      echo && typeof body === "object" && body !== null && !Array.isArray(body)
        ? { ...body, error_description: `secret was ${secret} ${encodeURIComponent(secret)}` }
        : body
    const error = AuthError.fromOAuthErrorResponse(status, echoed, retryAfter, [secret])
    expect(isTyped(error), "not a typed error")
    for (const output of [String(error), JSON.stringify(error), error.message]) {
      expect(!output.includes(secret), "an echoed secret survived")
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Callbacks: form_post bodies, queries, fragments, parameters

const callbackInput = fc.oneof(
  nasty,
  fc.webUrl({ withFragments: true, withQueryParameters: true }),
  nasty.map((s) => `https://app.example.test/callback?${s}`),
  nasty.map((s) => `https://app.example.test/callback#${s}`),
  fc.dictionary(nasty, nasty, { maxKeys: 8 }).map((d) => ({ kind: "record" as const, d })),
  fc
    .record({
      method: fc.constantFrom("GET", "POST", "PUT", "DELETE"),
      contentType: fc.constantFrom(
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=utf-8",
        "text/plain",
        "",
        "multipart/form-data"
      ),
      body: fc.oneof(
        nasty,
        fc.nat({ max: 200_000 }).map((n) => `state=${"s".repeat(n)}`)
      ),
      query: nasty
    })
    .map((r) => ({ kind: "request" as const, ...r }))
)

type CallbackFuzz = fc.Arbitrary<unknown> extends fc.Arbitrary<infer A> ? A : never

const toCallback = (input: CallbackFuzz): Consent.CallbackInput | undefined => {
  if (typeof input === "string") return input
  if (typeof input !== "object" || input === null) return undefined
  const i = input as { kind?: string }
  if (i.kind === "record") return (input as { d: Record<string, string> }).d
  if (i.kind === "request") {
    const r = input as { method: string; contentType: string; body: string; query: string }
    try {
      return new Request(`https://app.example.test/callback?${encodeURIComponent(r.query)}`, {
        method: r.method,
        headers: r.contentType === "" ? {} : { "content-type": r.contentType },
        ...(r.method === "GET" ? {} : { body: r.body })
      })
    } catch {
      return undefined
    }
  }
  return undefined
}

const callback: Target<unknown> = {
  name: "callback",
  boundary: "callback bodies, queries and fragments (MerchantConsent.complete's first step)",
  arbitrary: callbackInput as fc.Arbitrary<unknown>,
  check: async (raw) => {
    const input = toCallback(raw)
    if (input === undefined) return
    await typedOrValue(
      Effect.flatMap(Consent.callbackParameters(input), ({ params, source }) =>
        Effect.all(["state", "code", "id_token", "error", "iss"].map((n) => Consent.single(params, n))).pipe(
          Effect.as(source)
        )
      ),
      (source) => expect(["form", "query", "fragment", "parameters"].includes(source), "unknown source")
    )
  }
}

// ---------------------------------------------------------------------------------------------
// Discovery documents

const issuer = "https://id.example.test/merchant"
const environment = Environment.custom({
  kind: "production",
  discoveryUrl: "https://id.example.test/.well-known/openid-configuration",
  issuer,
  integratorTokenUrl: "https://id.example.test/integrator",
  apiBaseUrl: "https://api.example.test"
})

const endpoint = fc.oneof(
  fc.webUrl(),
  fc.constantFrom(
    "http://id.example.test/token",
    "javascript:alert(1)",
    "https://user:pass@id.example.test/token",
    "//evil.test/x",
    "not a url",
    "http://127.0.0.1/token"
  ),
  nasty
)

const discoveryDocument = fc.oneof(
  fc.record(
    {
      issuer: fc.oneof(fc.constant(issuer), nasty),
      authorization_endpoint: endpoint,
      token_endpoint: endpoint,
      jwks_uri: endpoint,
      revocation_endpoint: fc.oneof(endpoint, fc.integer()),
      id_token_signing_alg_values_supported: fc.oneof(fc.constant(["RS256"]), fc.anything())
    },
    { requiredKeys: [] }
  ),
  fc.anything()
)

const discovery: Target<{ doc: unknown; status: number; contentType: string; raw: string | undefined }> = {
  name: "discovery",
  boundary: "Discovery.fetchMetadata: the provider's OpenID configuration",
  arbitrary: fc.record({
    doc: discoveryDocument,
    status: fc.constantFrom(200, 200, 200, 404, 500, 302),
    contentType: fc.constantFrom("application/json", "application/json; charset=utf-8", "text/html"),
    raw: fc.option(nasty, { nil: undefined })
  }),
  check: ({ contentType, doc, raw, status }) =>
    typedOrValue(
      Discovery.fetchMetadata(
        environment,
        Effect.succeed(async () => {
          let body: string | undefined = raw
          if (body === undefined) {
            try {
              body = JSON.stringify(doc) ?? ""
            } catch {
              body = ""
            }
          }
          return new Response(status === 302 ? null : body, {
            status,
            headers: {
              "content-type": contentType,
              ...(status === 302 ? { location: "https://evil.test/" } : {})
            }
          })
        })
      ),
      (metadata) => {
        for (const name of ["authorization_endpoint", "token_endpoint", "jwks_uri"] as const) {
          const value = metadata[name]
          expect(typeof value === "string" && new URL(value).protocol === "https:", `${name} not https`)
        }
      }
    )
}

// ---------------------------------------------------------------------------------------------
// JWKS: a correctly signed front-channel ID token checked against a hostile key set

interface JwksFixture {
  readonly jwk: JsonWebKey
  readonly params: URLSearchParams
  readonly nonce: string
  readonly state: string
}

const b64 = (value: unknown) => Encoding.encodeBase64Url(new TextEncoder().encode(JSON.stringify(value)))

const jwksFixture: Promise<JwksFixture> = (async () => {
  const keys = await crypto.subtle.generateKey(
    {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256"
    },
    true,
    ["sign", "verify"]
  )
  const jwk = await crypto.subtle.exportKey("jwk", keys.publicKey)
  const code = "code-1"
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(code)))
  const now = Math.floor(Date.now() / 1000)
  const head = b64({ alg: "RS256", kid: "k1", typ: "JWT" })
  const body = b64({
    iss: issuer,
    aud: "client",
    sub: "user-1",
    nonce: "n-1",
    c_hash: Encoding.encodeBase64Url(digest.slice(0, 16)),
    iat: now,
    exp: now + 3600 * 24 * 365
  })
  const sig = await crypto.subtle.sign(
    "RSASSA-PKCS1-v1_5",
    keys.privateKey,
    new TextEncoder().encode(`${head}.${body}`)
  )
  const idToken = `${head}.${body}.${Encoding.encodeBase64Url(new Uint8Array(sig))}`
  return {
    jwk,
    params: new URLSearchParams({ code, id_token: idToken, state: "st-1" }),
    nonce: "n-1",
    state: "st-1"
  }
})()

const jwkLike = (real: fc.Arbitrary<Record<string, unknown>>) =>
  fc.oneof(
    real,
    fc.record(
      {
        kty: fc.oneof(fc.constantFrom("RSA", "EC", "oct", "OKP"), nasty),
        kid: fc.oneof(fc.constantFrom("k1", "k2", "../k1", ""), nasty),
        alg: fc.oneof(fc.constantFrom("RS256", "HS256", "none", "ES256", "PS256"), nasty),
        use: fc.constantFrom("sig", "enc"),
        n: fc.oneof(nasty, fc.base64String()),
        e: fc.oneof(fc.constantFrom("AQAB", "AQ", ""), nasty),
        crv: fc.constantFrom("P-256", "Ed25519", "X"),
        x: fc.base64String(),
        y: fc.base64String(),
        k: fc.base64String(),
        key_ops: fc.anything()
      },
      { requiredKeys: [] }
    )
  )

const jwks: Target<{ set: unknown; withReal: boolean; contentType: string }> = {
  name: "jwks",
  boundary: "the JWKS an ID token is verified against (oauth4webapi, errors mapped by us)",
  arbitrary: fc.record({
    set: fc.oneof(fc.record({ keys: fc.array(jwkLike(fc.constant({})), { maxLength: 6 }) }), fc.anything()),
    withReal: fc.boolean(),
    contentType: fc.constantFrom("application/json", "application/jwk-set+json", "text/plain")
  }),
  check: async ({ contentType, set, withReal }) => {
    const fixture = await jwksFixture
    const served =
      withReal && typeof set === "object" && set !== null && Array.isArray((set as { keys?: unknown }).keys)
        ? {
            keys: [
              ...(set as { keys: Array<unknown> }).keys,
              { ...fixture.jwk, kid: "k1", alg: "RS256", use: "sig" }
            ]
          }
        : set
    const as: oauth.AuthorizationServer = {
      issuer,
      jwks_uri: "https://id.example.test/jwks",
      id_token_signing_alg_values_supported: ["RS256"]
    }
    await typedOrValue(
      OAuth.attempt(
        () =>
          oauth.validateCodeIdTokenResponse(
            as,
            { client_id: "client" },
            new URLSearchParams(fixture.params),
            fixture.nonce,
            fixture.state,
            oauth.skipAuthTimeCheck,
            {
              [oauth.customFetch]: async () => {
                let body = ""
                try {
                  body = JSON.stringify(served) ?? ""
                } catch {
                  body = ""
                }
                return new Response(body, { headers: { "content-type": contentType } })
              },
              [oauth.jwksCache]: {}
            }
          ),
        (e) => OAuth.toIdTokenError(e, "https://id.example.test/jwks")
      )
    )
  }
}

// ---------------------------------------------------------------------------------------------
// VAT numbers

const vat: Target<{ input: string; checkDigit: boolean }> = {
  name: "vat",
  boundary: "Vat.parseEither: a VAT number from a caller or a URL",
  arbitrary: fc.record({
    input: fc.oneof(
      nasty,
      fc
        .tuple(fc.constantFrom("DK", "dk", "FI", "fi", "SE", " DK "), fc.stringMatching(/^[0-9 \-.]{0,14}$/))
        .map(([c, d]) => `${c}${d}`)
    ),
    checkDigit: fc.boolean()
  }),
  check: ({ checkDigit, input }) => {
    const result = Vat.parseEither(input, { checkDigit })
    if (Either.isLeft(result)) return expect(result.left instanceof AuthError.InvalidVat, "not InvalidVat")
    expect(/^(DK|FI)\d{8}$/.test(result.right), `an invalid VAT accepted: ${result.right}`)
  }
}

// ---------------------------------------------------------------------------------------------
// Store rows: what a (possibly tampered) database hands back

// Built on first use (the cipher imports its key asynchronously).
let vaultPromise:
  | Promise<{
      readonly cipher: TokenCipher.TokenCipher.Service
      readonly store: TokenStore.TokenStore.Service
      readonly service: TokenVault.TokenVault.Service
    }>
  | undefined
const vaultOnce = () =>
  (vaultPromise ??= Effect.runPromise(
    Effect.gen(function* () {
      const cipher = yield* Effect.orDie(
        TokenCipher.make([{ id: "k", secret: Redacted.make(Buffer.alloc(32, 3).toString("base64")) }])
      )
      const store = yield* TokenStore.makeMemory
      const service = yield* TokenVault.make.pipe(
        Effect.provideService(TokenCipher.TokenCipher, cipher),
        Effect.provideService(TokenStore.TokenStore, store)
      )
      return { cipher, store, service }
    })
  ))

const grantJson = fc.record(
  {
    tokens: fc.record(
      {
        accessToken: fc.oneof(nasty, fc.integer()),
        tokenType: fc.constantFrom("Bearer", "bearer", "x"),
        issuedAt: fc.oneof(fc.double(), fc.string()),
        expiresAt: fc.oneof(fc.double(), fc.string()),
        refreshToken: fc.oneof(nasty, fc.constant(null)),
        idToken: fc.oneof(nasty, fc.constant(null)),
        scopes: fc.oneof(fc.array(fc.string()), fc.anything())
      },
      { requiredKeys: [] }
    ),
    attributes: fc.oneof(
      fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.record({ redacted: fc.string() }), fc.anything())),
      fc.anything()
    )
  },
  { requiredKeys: [] }
)

let rowSerial = 0
const storeRow: Target<{ sealed: boolean; json: unknown; raw: string }> = {
  name: "store-row",
  boundary: "TokenVault.get: a grant or pending record as the database returns it",
  arbitrary: fc.record({ sealed: fc.boolean(), json: fc.oneof(grantJson, fc.anything()), raw: nasty }),
  check: async ({ json, raw, sealed }) => {
    const vault = await vaultOnce()
    return typedOrValue(
      Effect.gen(function* () {
        const key = `grant:fuzz:${++rowSerial}`
        let text = raw
        if (sealed) {
          let plain = "null"
          try {
            plain = JSON.stringify(json) ?? "null"
          } catch {
            plain = "null"
          }
          text = yield* vault.cipher.seal(plain, key)
        }
        yield* vault.store.put(key, text, { expectedVersion: 0 })
        const grant = yield* vault.service.get(GrantSchema, key)
        const pending = yield* Effect.either(vault.service.get(Consent.PendingRecord, key))
        yield* vault.store.remove(key)
        return { grant, pending }
      }),
      ({ pending }) => expect(Either.isRight(pending) || isTyped(pending.left), "pending decode untyped")
    )
  }
}

// ---------------------------------------------------------------------------------------------
// Configuration strings (environment variables)

const configValue = fc.oneof(
  nasty,
  fc.constantFrom(
    "sandbox-dk",
    "production-fi",
    "custom",
    "production",
    "sandbox",
    "true",
    "false",
    "invoice subscriptions",
    "invoice,webhooks",
    "1.2.3",
    "10 seconds",
    "https://id.example.test/.well-known/openid-configuration",
    "http://127.0.0.1:1/x"
  )
)

const configNames = [
  "ENVIRONMENT",
  "KIND",
  "DISCOVERY_URL",
  "ISSUER",
  "INTEGRATOR_TOKEN_URL",
  "INTEGRATOR_ISSUER",
  "API_BASE_URL",
  "ALLOW_INSECURE_LOOPBACK",
  "CLIENT_ID",
  "CLIENT_SECRET",
  "GATEWAY_CLIENT_ID",
  "GATEWAY_CLIENT_SECRET",
  "GATEWAY_ON_TOKEN_CALL",
  "CLIENT_SYSTEM_VERSION",
  "REDIRECT_URI",
  "SCOPES",
  "SEND_VERIFIER_ON_REFRESH",
  "REQUEST_TIMEOUT",
  "ENCRYPTION_KEYS"
] as const

const configuration: Target<{ env: Record<string, string>; keys: string; scopes: string }> = {
  name: "config",
  boundary: "MobilePayConfig.config, TokenCipher.parseKeyList, Scope.parseProductScopes: settings",
  arbitrary: fc.record({
    env: fc.dictionary(fc.constantFrom(...configNames), configValue, { maxKeys: 12 }),
    keys: fc.oneof(
      nasty,
      fc.tuple(nasty, fc.base64String()).map(([id, k]) => `${id}:${k}`),
      fc.constant(`k1:${Buffer.alloc(32, 1).toString("base64")}`)
    ),
    scopes: configValue
  }),
  check: async ({ env, keys, scopes }) => {
    const provider = ConfigProvider.fromMap(
      new Map(Object.entries(env).map(([k, v]) => [`MOBILEPAY_${k}`, v])),
      { pathDelim: "_" }
    )
    const exit = await Effect.runPromiseExit(Effect.withConfigProvider(MobilePayConfig.config(), provider))
    if (Exit.isFailure(exit)) {
      expect(exit.cause._tag === "Fail", `config: ${exit.cause._tag}`)
    } else {
      const service = exit.value
      expect(service.clientId.length > 0, "empty client id accepted")
      expect(["sandbox", "production"].includes(service.environment.kind), "unknown kind")
      for (const s of service.scopes) expect(Scope.ProductScope.literals.includes(s), `unknown scope ${s}`)
    }
    const parsed = TokenCipher.parseKeyList(Redacted.make(keys))
    if (Either.isRight(parsed)) expect(parsed.right.length > 0, "an empty key list accepted")
    else
      expect(
        (typeof parsed.left === "string" && !parsed.left.includes(keys.slice(-20))) || keys.length < 20,
        "key echoed"
      )
    const products = Scope.parseProductScopes(Scope.split(scopes))
    if (Either.isLeft(products)) expect(products.left instanceof AuthError.InvalidScope, "scopes: untyped")
  }
}

// ---------------------------------------------------------------------------------------------
// Small header and token parsers

const headers: Target<{ retryAfter: string; cookie: string; jwt: string; url: string }> = {
  name: "headers-and-claims",
  boundary: "Retry-After, the binding cookie, unverified JWT claims, redirect URI and endpoint rules",
  arbitrary: fc.record({
    retryAfter: fc.oneof(
      nasty,
      fc.nat().map(String),
      fc.date({ noInvalidDate: true }).map((d) => d.toUTCString())
    ),
    cookie: fc.oneof(
      nasty,
      fc
        .array(
          fc.tuple(fc.constantFrom("__Host-mobilepay-consent", "a", " __Host-mobilepay-consent "), nasty),
          {
            maxLength: 4
          }
        )
        .map((pairs) => pairs.map(([k, v]) => `${k}=${v}`).join("; "))
    ),
    jwt: fc.oneof(
      nasty,
      fc
        .tuple(
          fc.base64String(),
          fc.oneof(
            fc.base64String(),
            fc.anything().map((a) => b64(a))
          ),
          fc.base64String()
        )
        .map(([a, b, c]) => `${a}.${b}.${c}`)
    ),
    url: fc.oneof(
      fc.webUrl(),
      fc.constantFrom(
        "https://localhost./x",
        "https://app.localhost/x",
        "https://[::ffff:7f00:1]/x",
        "http://127.0.0.1:8080/x",
        "https://0.0.0.0/x",
        "https://LOCALHOST/x"
      ),
      nasty.map((s) => `https://${s}/`)
    )
  }),
  check: ({ cookie, jwt, retryAfter, url }) => {
    const delay = AuthHttp.parseRetryAfter(retryAfter, 1_700_000_000_000)
    expect(
      holds(delay, (ms) => Number.isFinite(ms) && ms >= 0),
      "Retry-After not a finite delay"
    )
    const binding = Consent.bindingFromCookies(cookie)
    expect(binding === undefined || (binding.length > 0 && binding.length <= 256), "binding unbounded")
    Consent.unverifiedClaims(jwt)
    let parsed: URL | undefined
    try {
      parsed = new URL(url)
    } catch {
      parsed = undefined
    }
    if (parsed !== undefined) {
      const production = Environment.allowsRedirectUri({ kind: "production" }, parsed)
      expect(
        !(production && Environment.refersToLoopback(parsed)),
        "loopback redirect URI allowed in production"
      )
      const endpointOk = Environment.allowsEndpoint({ allowInsecureLoopback: false }, parsed)
      expect(!endpointOk || parsed.protocol === "https:", "insecure endpoint allowed")
    }
  }
}

/**
 * A target with its input type erased, so targets of different inputs share one list.
 *
 * @internal
 */
export interface AnyTarget {
  readonly name: string
  readonly boundary: string
  readonly sample: (runs: number, seed: number) => ReadonlyArray<unknown>
  readonly check: (input: unknown) => void | Promise<void>
}

export const erase = <A>(target: Target<A>): AnyTarget => ({
  name: target.name,
  boundary: target.boundary,
  sample: (numRuns, seed) => fc.sample(target.arbitrary, { numRuns, seed }),
  // The input is the one `sample` generated from this same target's arbitrary.
  check: (input) => target.check(input as A)
})

/**
 * Every target, with its share of the runs (weights: cheap parsers get more).
 *
 * @internal
 */
export const all: ReadonlyArray<{ readonly target: AnyTarget; readonly weight: number }> = [
  { target: erase(tokenResponse), weight: 18 },
  { target: erase(errorBody), weight: 14 },
  { target: erase(callback), weight: 14 },
  { target: erase(discovery), weight: 8 },
  { target: erase(jwks), weight: 4 },
  { target: erase(vat), weight: 14 },
  { target: erase(storeRow), weight: 8 },
  { target: erase(configuration), weight: 8 },
  { target: erase(headers), weight: 12 }
]

export interface Report {
  readonly inputs: number
  readonly defects: number
  readonly byTarget: ReadonlyArray<{
    readonly name: string
    readonly inputs: number
    readonly defects: number
  }>
  readonly examples: ReadonlyArray<string>
  readonly maxRssBytes: number
}

const withTimeout = <A>(promise: Promise<A>, ms: number) =>
  new Promise<A>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Defect(`hang: no outcome within ${ms} ms`)), ms)
    promise.then(
      (a) => {
        clearTimeout(timer)
        resolve(a)
      },
      (e) => {
        clearTimeout(timer)
        reject(e)
      }
    )
  })

const preview = (input: unknown) => {
  try {
    return JSON.stringify(input)?.slice(0, 200) ?? String(input)
  } catch {
    return String(input).slice(0, 200)
  }
}

/**
 * Runs `total` generated inputs spread over the targets by weight, from `seed`. Every input's
 * outcome is checked; a check that throws, rejects or takes longer than `timeoutMs` is a defect.
 *
 * @internal
 */
export const run = async (
  total: number,
  seed: number,
  options: {
    readonly timeoutMs?: number
    readonly onProgress?: (line: string) => void
    /** Default: every target above. */
    readonly targets?: ReadonlyArray<{ readonly target: AnyTarget; readonly weight: number }>
  } = {}
): Promise<Report> => {
  const targets = options.targets ?? all
  const weights = targets.reduce((n, t) => n + t.weight, 0)
  const byTarget: Array<{ name: string; inputs: number; defects: number }> = []
  const examples: Array<string> = []
  let maxRss = process.memoryUsage().rss
  for (const [index, { target, weight }] of targets.entries()) {
    const runs = Math.ceil((total * weight) / weights)
    let inputs = 0
    let defects = 0
    const batch = 500
    for (let done = 0; done < runs; done += batch) {
      const values = target.sample(Math.min(batch, runs - done), seed + index * 1_000_003 + done)
      for (const value of values) {
        inputs++
        try {
          await withTimeout(
            Promise.resolve().then(() => target.check(value)),
            options.timeoutMs ?? 10_000
          )
        } catch (e) {
          defects++
          if (examples.length < 10)
            examples.push(`${target.name}: ${String(e).slice(0, 200)} <- ${preview(value)}`)
        }
      }
      maxRss = Math.max(maxRss, process.memoryUsage().rss)
    }
    byTarget.push({ name: target.name, inputs, defects })
    options.onProgress?.(`${target.name.padEnd(20)} ${String(inputs).padStart(7)} inputs ${defects} defects`)
  }
  return {
    inputs: byTarget.reduce((n, t) => n + t.inputs, 0),
    defects: byTarget.reduce((n, t) => n + t.defects, 0),
    byTarget,
    examples,
    maxRssBytes: maxRss
  }
}
