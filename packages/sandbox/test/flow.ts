/**
 * Test helpers: talk to the sandbox over real HTTP, as a client and as a person's browser.
 */
import { Effect } from "effect"
import { layer, Sandbox } from "../src/Sandbox.js"

/** Runs `f` against a sandbox started for it (and stopped after it). */
export const withSandbox = <A, E>(
  f: (sandbox: Sandbox.Service) => Effect.Effect<A, E>,
  options: Parameters<typeof layer>[0] = {}
) => Effect.flatMap(Sandbox, f).pipe(Effect.provide(layer(options)))

export const VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
export const CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
export const CLIENT = { id: "sandbox-merchant-client", secret: "sandbox-merchant-secret" }
export const REDIRECT = "http://127.0.0.1:8765/callback"

export const http = (url: string, init?: RequestInit) =>
  Effect.promise(async () => {
    const response = await fetch(url, { redirect: "manual", ...init })
    return { status: response.status, headers: response.headers, text: await response.text() }
  })

export const form = (body: Record<string, string>): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/x-www-form-urlencoded" },
  body: new URLSearchParams(body).toString()
})

export const basic = (id: string, secret: string) =>
  `Basic ${btoa(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`)}`

export const authorizeUrl = (
  sandbox: Sandbox.Service,
  overrides: Record<string, string | undefined> = {}
) => {
  const url = new URL(sandbox.authorizeUrl)
  const params: Record<string, string | undefined> = {
    client_id: CLIENT.id,
    redirect_uri: REDIRECT,
    response_type: "code id_token",
    response_mode: "form_post",
    scope: "openid offline_access invoice",
    state: `state-${Math.random()}`,
    nonce: `nonce-${Math.random()}`,
    code_challenge: CHALLENGE,
    code_challenge_method: "S256",
    merchant_vat: "DK12345678",
    ...overrides
  }
  for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, v)
  return url.href
}

const field = (html: string, name: string) =>
  new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1]?.replace(/&amp;/g, "&")

/** Walks login and consent; returns the callback parameters (from form_post or fragment). */
export const consent = (
  sandbox: Sandbox.Service,
  overrides: Record<string, string | undefined> = {},
  decision: "allow" | "deny" = "allow",
  username = "anna"
) =>
  Effect.gen(function* () {
    const loginPage = yield* http(authorizeUrl(sandbox, overrides))
    const request = field(loginPage.text, "request")
    if (request === undefined) return { status: loginPage.status, page: loginPage, params: undefined }
    const consentPage = yield* http(
      `${sandbox.baseUrl}/account/login`,
      form({ request, username, password: "pw" })
    )
    const done = yield* http(`${sandbox.baseUrl}/account/consent`, form({ request, decision }))
    const location = done.headers.get("location")
    const params = location
      ? Object.fromEntries(new URLSearchParams(new URL(location).hash.slice(1)))
      : Object.fromEntries(
          ["code", "id_token", "state", "error", "error_description"].flatMap((k) => {
            const v = field(done.text, k)
            return v === undefined ? [] : [[k, v]]
          })
        )
    return { status: done.status, page: consentPage, params, location }
  })

export const redeem = (sandbox: Sandbox.Service, code: string, extra: Record<string, string> = {}) =>
  Effect.map(
    http(
      sandbox.merchantTokenUrl,
      form({
        grant_type: "authorization_code",
        code,
        redirect_uri: REDIRECT,
        code_verifier: VERIFIER,
        client_id: CLIENT.id,
        client_secret: CLIENT.secret,
        ...extra
      })
    ),
    (r) => ({ ...r, json: JSON.parse(r.text) as Record<string, unknown> })
  )

export const refresh = (sandbox: Sandbox.Service, refreshToken: string, extra: Record<string, string> = {}) =>
  Effect.map(
    http(
      sandbox.merchantTokenUrl,
      form({
        grant_type: "refresh_token",
        refresh_token: refreshToken,
        client_id: CLIENT.id,
        client_secret: CLIENT.secret,
        ...extra
      })
    ),
    (r) => ({ ...r, json: JSON.parse(r.text) as Record<string, unknown> })
  )

/** The S256 challenge of a verifier, for tests that pick their own. */
export const challengeOf = (verifier: string) =>
  Effect.promise(() => crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))).pipe(
    Effect.map((digest) => Buffer.from(digest).toString("base64url"))
  )

export const integratorToken = (
  sandbox: Sandbox.Service,
  body: Record<string, string> = {},
  headers: Record<string, string> = {}
) =>
  http(sandbox.integratorTokenUrl, {
    ...form({ grant_type: "client_credentials", ...body }),
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: basic("sandbox-integrator-client", "sandbox-integrator-secret"),
      ...headers
    }
  })

export const jwtPayload = (jwt: string): Record<string, unknown> =>
  JSON.parse(Buffer.from(jwt.split(".")[1] ?? "", "base64url").toString("utf8"))
