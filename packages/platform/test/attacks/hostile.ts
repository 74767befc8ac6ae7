/**
 * A hostile OpenID provider in process, over real HTTP on 127.0.0.1: discovery, JWKS, a token
 * endpoint, revocation and a small API, each of which an attack can script to misbehave (sign
 * with another key or `alg`, answer with a redirect, echo a secret, grant more than asked,
 * send a gigantic token). Everything it received is recorded, so a test can assert what never
 * left the toolkit. Also the stack the attacks run against: the public layers, with `fetch`.
 */
import { createServer, type IncomingMessage, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { FetchHttpClient } from "@effect/platform"
import { Environment, SecureRandom } from "@mobilepay-auth/domain"
import { Effect, Encoding, Layer, Redacted } from "effect"
import * as AuthHttp from "../../src/AuthHttp.js"
import * as MerchantConsent from "../../src/MerchantConsent.js"
import * as MobilePayConfig from "../../src/MobilePayConfig.js"
import * as TokenManager from "../../src/TokenManager.js"
import * as TokenStore from "../../src/TokenStore.js"
import * as TokenVault from "../../src/TokenVault.js"
import * as TokenCipher from "../../src/TokenCipher.js"

export const clientId = "integrator-client"
export const clientSecret = "s3cr3t-client"
export const secret = Redacted.make(clientSecret)
export const redirectUri = "https://app.example.test/callback"

/** What a route answers. */
export interface Answer {
  readonly status: number
  readonly headers?: Record<string, string>
  readonly body?: string
}

export interface Received {
  readonly method: string
  readonly path: string
  readonly headers: Record<string, string | Array<string> | undefined>
  readonly body: string
}

export type Alg = "RS256" | "none" | "HS256"

export interface SignOptions {
  readonly alg?: Alg
  readonly kid?: string
  /** Sign with the attacker's own RSA key instead of the provider's. */
  readonly rogue?: boolean
  /** Extra header members. */
  readonly header?: Record<string, unknown>
}

/** How the provider misbehaves; every field is optional and read at request time. */
export interface Script {
  /** Tamper with the callback's (front-channel) ID token claims. */
  front?: (claims: Record<string, unknown>) => void
  frontSign?: SignOptions
  /** Tamper with the token endpoint's (back-channel) ID token claims. */
  back?: (claims: Record<string, unknown>) => void
  backSign?: SignOptions
  /** Tamper with the token response body. */
  tokens?: (body: Record<string, unknown>) => void
  /** Replace any route's answer (by path) before it is handled. */
  routes?: Record<string, (request: Received) => Answer>
  /** Extra keys served in the JWKS. */
  extraKeys?: ReadonlyArray<Record<string, unknown>>
}

const b64 = (value: unknown) => Encoding.encodeBase64Url(new TextEncoder().encode(JSON.stringify(value)))
const json = (body: unknown, status = 200): Answer => ({
  status,
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body)
})

const rsa = () =>
  crypto.subtle.generateKey(
    {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256"
    },
    true,
    ["sign", "verify"]
  )

const halfHash = async (value: string) => {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(value)))
  return Encoding.encodeBase64Url(digest.slice(0, 16))
}

const s256 = async (value: string) =>
  Encoding.encodeBase64Url(
    new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(value)))
  )

const readBody = (request: IncomingMessage) =>
  new Promise<string>((resolve) => {
    const chunks: Array<Buffer> = []
    request.on("data", (c: Buffer) => chunks.push(c))
    request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
  })

/** A bare HTTP server on 127.0.0.1 that answers with `handle` and records what it received. */
export const listen = (handle: (request: Received) => Promise<Answer> | Answer) =>
  Effect.acquireRelease(
    Effect.promise(
      () =>
        new Promise<{ server: Server; url: string; received: Array<Received> }>((resolve) => {
          const received: Array<Received> = []
          const server = createServer((req, res) => {
            void readBody(req).then(async (body) => {
              const r: Received = {
                method: req.method ?? "GET",
                path: (req.url ?? "/").split("?")[0] ?? "/",
                headers: req.headers,
                body
              }
              received.push(r)
              const answer = await handle(r)
              res.writeHead(answer.status, answer.headers ?? {})
              res.end(answer.body ?? "")
            })
          })
          server.listen(0, "127.0.0.1", () => {
            const { port } = server.address() as AddressInfo
            resolve({ server, url: `http://127.0.0.1:${port}`, received })
          })
        })
    ),
    ({ server }) =>
      Effect.promise(
        () =>
          new Promise<void>((resolve) => {
            server.closeAllConnections()
            server.close(() => resolve())
          })
      )
  )

/** The hostile provider. `script` is mutable: set what the attack needs before the step it targets. */
export const make = Effect.gen(function* () {
  const good = yield* Effect.promise(rsa)
  const rogue = yield* Effect.promise(rsa)
  const goodJwk = yield* Effect.promise(() => crypto.subtle.exportKey("jwk", good.publicKey))
  const rogueJwk = yield* Effect.promise(() => crypto.subtle.exportKey("jwk", rogue.publicKey))
  const script: Script = {}
  const codes = new Map<string, { nonce: string; challenge: string; scope: string }>()
  const revoked: Array<{ token: string; hint: string | null }> = []
  let serial = 0
  let base = ""

  const sign = async (claims: Record<string, unknown>, options: SignOptions = {}) => {
    const alg = options.alg ?? "RS256"
    const head = b64({ alg, kid: options.kid ?? "k1", typ: "JWT", ...options.header })
    const body = b64(claims)
    const input = new TextEncoder().encode(`${head}.${body}`)
    if (alg === "none") return `${head}.${body}.`
    if (alg === "HS256") {
      // The classic confusion: the RSA public key (which anyone can fetch) used as an HMAC secret.
      const secret = new TextEncoder().encode(JSON.stringify(goodJwk))
      const key = await crypto.subtle.importKey("raw", secret, { name: "HMAC", hash: "SHA-256" }, false, [
        "sign"
      ])
      const sig = await crypto.subtle.sign("HMAC", key, input)
      return `${head}.${body}.${Encoding.encodeBase64Url(new Uint8Array(sig))}`
    }
    const sig = await crypto.subtle.sign(
      "RSASSA-PKCS1-v1_5",
      (options.rogue ? rogue : good).privateKey,
      input
    )
    return `${head}.${body}.${Encoding.encodeBase64Url(new Uint8Array(sig))}`
  }

  const issuer = () => `${base}/merchant`
  const now = () => Math.floor(Date.now() / 1000)

  const token = async (form: URLSearchParams): Promise<Answer> => {
    if (form.get("grant_type") === "authorization_code") {
      const entry = codes.get(form.get("code") ?? "")
      if (entry === undefined) return json({ error: "invalid_grant" }, 400)
      codes.delete(form.get("code") ?? "")
      if ((await s256(form.get("code_verifier") ?? "")) !== entry.challenge) {
        return json({ error: "invalid_grant" }, 400)
      }
      const access = `at-${++serial}-${"x".repeat(20)}`
      const claims: Record<string, unknown> = {
        iss: issuer(),
        aud: clientId,
        sub: "user-1",
        nonce: entry.nonce,
        iat: now(),
        exp: now() + 300
      }
      script.back?.(claims)
      const body: Record<string, unknown> = {
        access_token: access,
        token_type: "Bearer",
        expires_in: 300,
        refresh_token: `rt-${serial}`,
        scope: entry.scope,
        id_token: await sign(claims, script.backSign)
      }
      script.tokens?.(body)
      return json(body)
    }
    if (form.get("grant_type") === "refresh_token") {
      const body: Record<string, unknown> = {
        access_token: `at-${++serial}-refreshed`,
        token_type: "Bearer",
        expires_in: 300,
        scope: "openid offline_access invoice"
      }
      script.tokens?.(body)
      return json(body)
    }
    return json({ error: "unsupported_grant_type" }, 400)
  }

  const server = yield* listen(async (request) => {
    const override = script.routes?.[request.path]
    if (override !== undefined) return override(request)
    switch (request.path) {
      case "/.well-known/openid-configuration":
        return json({
          issuer: issuer(),
          authorization_endpoint: `${base}/authorize`,
          token_endpoint: `${base}/token`,
          jwks_uri: `${base}/jwks`,
          revocation_endpoint: `${base}/revoke`,
          id_token_signing_alg_values_supported: ["RS256"]
        })
      case "/jwks":
        return json({
          keys: [{ ...goodJwk, kid: "k1", use: "sig", alg: "RS256" }, ...(script.extraKeys ?? [])]
        })
      case "/token":
        return token(new URLSearchParams(request.body))
      case "/revoke": {
        const form = new URLSearchParams(request.body)
        revoked.push({ token: form.get("token") ?? "", hint: form.get("token_type_hint") })
        return { status: 200 }
      }
      default:
        if (request.path.startsWith("/api/")) return json({ ok: true })
        return { status: 404, body: "not found" }
    }
  })
  base = server.url

  /** What MobilePay would send back after the merchant consents (as `form_post` parameters). */
  const authorize = (authorizeUrl: string) =>
    Effect.promise(async () => {
      const params = new URL(authorizeUrl).searchParams
      const code = `code-${++serial}`
      codes.set(code, {
        nonce: params.get("nonce") ?? "",
        challenge: params.get("code_challenge") ?? "",
        scope: params.get("scope") ?? ""
      })
      const claims: Record<string, unknown> = {
        iss: issuer(),
        aud: clientId,
        sub: "user-1",
        nonce: params.get("nonce"),
        c_hash: await halfHash(code),
        iat: now(),
        exp: now() + 300
      }
      script.front?.(claims)
      return new URLSearchParams({
        code,
        id_token: await sign(claims, script.frontSign),
        state: params.get("state") ?? ""
      })
    })

  return {
    url: base,
    issuer: issuer(),
    script,
    received: server.received,
    revoked,
    sign,
    authorize,
    jwks: { good: goodJwk, rogue: rogueJwk },
    environment: (kind: "sandbox" | "production" = "sandbox") =>
      Environment.custom({
        kind,
        discoveryUrl: `${base}/.well-known/openid-configuration`,
        issuer: issuer(),
        integratorTokenUrl: `${base}/integrator/token`,
        integratorIssuer: `${base}/integrator`,
        apiBaseUrl: base,
        allowInsecureLoopback: true
      })
  }
})

export type Hostile = Effect.Effect.Success<typeof make>

export interface StackOptions {
  readonly scopes?: MobilePayConfig.Options["scopes"]
  readonly gateway?: MobilePayConfig.Options["gateway"]
  readonly store?: TokenStore.TokenStore.Service
  readonly kind?: "sandbox" | "production"
  readonly redirectUri?: string
}

/**
 * The toolkit as an integrator wires it, over `fetch` and loopback HTTP to the hostile provider:
 * configuration, the hardened client (no retries, so counts are exact), an encrypted vault on an
 * in-memory store (or the one given), the token manager and merchant consent.
 */
export const stack = (hostile: Hostile, options: StackOptions = {}) =>
  MerchantConsent.layer().pipe(
    Layer.provideMerge(TokenManager.layer()),
    Layer.provideMerge(TokenVault.layer),
    Layer.provideMerge(
      Layer.effect(
        TokenCipher.TokenCipher,
        Effect.orDie(
          TokenCipher.make([{ id: "k", secret: Redacted.make(Buffer.alloc(32, 9).toString("base64")) }])
        )
      )
    ),
    Layer.provideMerge(
      options.store === undefined
        ? Layer.effect(TokenStore.TokenStore, TokenStore.makeMemory)
        : Layer.succeed(TokenStore.TokenStore, options.store)
    ),
    Layer.provideMerge(AuthHttp.layer({ allowInsecureLoopback: true, maxRetries: 0 })),
    Layer.provide(FetchHttpClient.layer),
    Layer.provideMerge(
      MobilePayConfig.layer({
        environment: hostile.environment(options.kind),
        clientId,
        clientSecret: Redacted.make(clientSecret),
        redirectUri: options.redirectUri ?? redirectUri,
        scopes: options.scopes ?? ["invoice"],
        ...(options.gateway === undefined ? {} : { gateway: options.gateway })
      })
    ),
    Layer.provideMerge(SecureRandom.layerWebCrypto)
  )

/** A `form_post` callback as the browser POSTs it, with the binding cookie when given. */
export const formPost = (params: URLSearchParams, binding?: Redacted.Redacted<string>) =>
  new Request(redirectUri, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      ...(binding === undefined
        ? {}
        : { cookie: `${MerchantConsent.bindingCookieName}=${Redacted.value(binding)}` })
    },
    body: params.toString()
  })

/** Begin (bound to this "browser"), let the provider answer, and return the pieces. */
export const consent = (hostile: Hostile, begin: MerchantConsent.BeginOptions = {}) =>
  Effect.gen(function* () {
    const service = yield* MerchantConsent.MerchantConsent
    const started = yield* service.begin({ merchantVat: "DK12345678", ...begin })
    const params = yield* hostile.authorize(started.url)
    const binding = started.binding._tag === "Some" ? started.binding.value : undefined
    return { service, started, params, binding, request: formPost(params, binding) }
  })
