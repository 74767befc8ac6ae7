/**
 * A small OpenID provider in memory, behind an `HttpClient` (no sockets): discovery, JWKS, an
 * authorize step that answers like MobilePay (`code id_token`), a token endpoint with code and
 * refresh grants, and revocation. For fast unit tests of what needs no browser; the sandbox
 * tests cover the real thing over HTTP.
 */
import { HttpClient, HttpClientResponse } from "@effect/platform"
import { Clock, Effect, Encoding, Layer } from "effect"

export const issuer = "https://api.mobilepay.test/merchant"
export const host = "https://admin.mobilepay.test"
export const discoveryUrl = `${host}/account/.well-known/openid-configuration`
const tokenUrl = "https://api.mobilepay.test/merchant-authentication-openidconnect/connect/token"

const b64 = (value: unknown) => Encoding.encodeBase64Url(new TextEncoder().encode(JSON.stringify(value)))

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } })

export interface FakeOptions {
  readonly clientId: string
  readonly rotation?: "reuse" | "one-time"
  readonly accessTokenSeconds?: number
  /** Sliding lifetime of refresh tokens (renewed on use). Default: 13 months. */
  readonly refreshTokenSeconds?: number
  /**
   * As OpenID Connect Core section 11 allows: `offline_access` is dropped (no refresh token)
   * unless the authorization asked for `prompt=consent`.
   */
  readonly offlineAccessNeedsPromptConsent?: boolean
}

export const make = (options: FakeOptions) =>
  Effect.gen(function* () {
    const keys = yield* Effect.promise(() =>
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
    )
    const jwk = yield* Effect.promise(() => crypto.subtle.exportKey("jwk", keys.publicKey))
    const codes = new Map<
      string,
      { nonce: string; challenge: string; vat: string | undefined; used: boolean; offline: boolean }
    >()
    const refreshTokens = new Map<string, { vat: string | undefined; verifier: string; expiresAt: number }>()
    const refreshLifetime = (options.refreshTokenSeconds ?? 400 * 24 * 3600) * 1000
    const counters = { token: 0, refresh: 0, revoke: 0, verifierSent: 0 }
    let serial = 0

    const sign = async (claims: Record<string, unknown>) => {
      const head = b64({ alg: "RS256", kid: "k1", typ: "JWT" })
      const body = b64(claims)
      const sig = await crypto.subtle.sign(
        "RSASSA-PKCS1-v1_5",
        keys.privateKey,
        new TextEncoder().encode(`${head}.${body}`)
      )
      return `${head}.${body}.${Encoding.encodeBase64Url(new Uint8Array(sig))}`
    }
    const halfHash = async (value: string) => {
      const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(value)))
      return Encoding.encodeBase64Url(digest.slice(0, 16))
    }
    const s256 = async (value: string) =>
      Encoding.encodeBase64Url(
        new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(value)))
      )

    const tokens = async (
      now: number,
      vat: string | undefined,
      nonce: string | undefined,
      refresh: string | undefined
    ) => ({
      access_token: await sign({
        iss: issuer,
        aud: "merchant-api",
        sub: "user-1",
        exp: Math.floor(now / 1000) + (options.accessTokenSeconds ?? 300),
        ...(vat === undefined ? {} : { merchant_id: `m-${vat}` })
      }),
      token_type: "Bearer",
      expires_in: options.accessTokenSeconds ?? 300,
      ...(refresh === undefined ? {} : { refresh_token: refresh }),
      scope: refresh === undefined ? "openid invoice" : "openid offline_access invoice",
      ...(nonce === undefined
        ? {}
        : {
            id_token: await sign({
              iss: issuer,
              aud: options.clientId,
              sub: "user-1",
              nonce,
              iat: Math.floor(now / 1000),
              exp: Math.floor(now / 1000) + 300
            })
          })
    })

    /** What MobilePay would post back after the merchant consents. */
    const authorize = (authorizeUrl: string, tamper: (claims: Record<string, unknown>) => void = () => {}) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.promise(async () => {
          const params = new URL(authorizeUrl).searchParams
          const code = `code-${++serial}`
          codes.set(code, {
            nonce: params.get("nonce") ?? "",
            offline:
              options.offlineAccessNeedsPromptConsent !== true ||
              (params.get("prompt") ?? "").split(" ").includes("consent"),
            challenge: params.get("code_challenge") ?? "",
            vat: params.get("merchant_vat") ?? undefined,
            used: false
          })
          const claims: Record<string, unknown> = {
            iss: issuer,
            aud: options.clientId,
            sub: "user-1",
            nonce: params.get("nonce"),
            c_hash: await halfHash(code),
            iat: Math.floor(now / 1000),
            exp: Math.floor(now / 1000) + 300
          }
          tamper(claims)
          return new URLSearchParams({
            code,
            id_token: await sign(claims),
            state: params.get("state") ?? "",
            scope: params.get("scope") ?? ""
          })
        })
      )

    const token = async (body: URLSearchParams, now: number): Promise<Response> => {
      counters.token++
      if (body.get("grant_type") === "authorization_code") {
        const entry = codes.get(body.get("code") ?? "")
        if (entry === undefined || entry.used) return json({ error: "invalid_grant" }, 400)
        entry.used = true
        if ((await s256(body.get("code_verifier") ?? "")) !== entry.challenge) {
          return json({ error: "invalid_grant", error_description: "PKCE" }, 400)
        }
        if (!entry.offline) return json(await tokens(now, entry.vat, entry.nonce, undefined))
        const refresh = `rt-${++serial}`
        refreshTokens.set(refresh, {
          vat: entry.vat,
          verifier: body.get("code_verifier") ?? "",
          expiresAt: now + refreshLifetime
        })
        return json(await tokens(now, entry.vat, entry.nonce, refresh))
      }
      if (body.get("grant_type") === "refresh_token") {
        counters.refresh++
        const old = body.get("refresh_token") ?? ""
        const entry = refreshTokens.get(old)
        if (entry === undefined || entry.expiresAt <= now) return json({ error: "invalid_grant" }, 400)
        if (body.get("code_verifier") !== null) counters.verifierSent++
        // Sliding: every use renews the refresh token's lifetime.
        entry.expiresAt = now + refreshLifetime
        let refresh = old
        if (options.rotation === "one-time") {
          refreshTokens.delete(old)
          refresh = `rt-${++serial}`
          refreshTokens.set(refresh, entry)
        }
        return json(await tokens(now, entry.vat, undefined, refresh))
      }
      return json({ error: "unsupported_grant_type" }, 400)
    }

    const client = HttpClient.make((request, url) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const body =
          request.body._tag === "Uint8Array"
            ? new URLSearchParams(new TextDecoder().decode(request.body.body))
            : new URLSearchParams()
        const response = yield* Effect.promise(async (): Promise<Response> => {
          switch (`${url.origin}${url.pathname}`) {
            case discoveryUrl:
              return json({
                issuer,
                authorization_endpoint: `${host}/account/connect/authorize`,
                token_endpoint: tokenUrl,
                jwks_uri: `${host}/account/jwks`,
                revocation_endpoint: `${host}/account/connect/revocation`,
                id_token_signing_alg_values_supported: ["RS256"]
              })
            case `${host}/account/jwks`:
              return json({ keys: [{ ...jwk, kid: "k1", use: "sig", alg: "RS256" }] })
            case tokenUrl:
              return token(body, now)
            case `${host}/account/connect/revocation`:
              counters.revoke++
              refreshTokens.delete(body.get("token") ?? "")
              return new Response(null, { status: 200 })
            default:
              return new Response("not found", { status: 404 })
          }
        })
        return HttpClientResponse.fromWeb(request, response)
      })
    )

    return {
      layer: Layer.succeed(HttpClient.HttpClient, client),
      authorize,
      sign,
      counters,
      /** The merchant revoked consent in the portal. */
      revokeAll: () => refreshTokens.clear()
    }
  })
