import { describe, expect, it } from "@effect/vitest"
import { Option, Redacted } from "effect"
import * as util from "node:util"
import { AuthError, Token } from "../src/index.js"

// 60 characters that look like a token (base64url, mixed case and digits).
const secret = "sk9Jq2XvB7mN4pL1wZ8tR3yH6cF0dG5aUeK-_oIiPsQbTnMrWxEyVzCjDlAh"
const leaky = `the refresh token ${secret} is not valid for this client`

const textsOf = (error: unknown): ReadonlyArray<string> => [
  String(error),
  error instanceof Error ? error.message : "",
  `${error}`,
  JSON.stringify(error),
  util.inspect(error, { depth: 10 })
]

const expectNoSecret = (error: unknown) => {
  for (const text of textsOf(error)) {
    expect(text).not.toContain(secret)
    expect(text).not.toContain(secret.slice(0, 30))
  }
}

describe("AuthError", () => {
  describe("fromOAuthErrorResponse", () => {
    it.each([
      ["invalid_client", 401, "InvalidClient"],
      ["invalid_client", 400, "InvalidClient"],
      ["unauthorized_client", 400, "UnauthorizedClient"],
      ["invalid_grant", 400, "InvalidGrant"],
      ["invalid_scope", 400, "InvalidScope"],
      ["invalid_request", 400, "InvalidRequest"],
      ["unsupported_grant_type", 400, "InvalidRequest"]
    ])("%s (HTTP %i) -> %s", (code, status, tag) => {
      const error = AuthError.fromOAuthErrorResponse(status, { error: code, error_description: "nope" })
      expect(error._tag).toBe(tag)
      expect(error.message).toContain("nope")
    })

    it("keeps the status and the description", () => {
      const error = AuthError.fromOAuthErrorResponse(400, {
        error: "invalid_grant",
        error_description: "expired"
      })
      expect(error).toBeInstanceOf(AuthError.InvalidGrant)
      expect(error).toMatchObject({ status: 400, description: "expired" })
    })

    it("any other code is InvalidRequest carrying that code", () => {
      const error = AuthError.fromOAuthErrorResponse(400, { error: "unsupported_grant_type" })
      expect(error).toBeInstanceOf(AuthError.InvalidRequest)
      expect(error).toMatchObject({ code: "unsupported_grant_type", status: 400 })
      expect(error.message).toContain("unsupported_grant_type")
      expect(AuthError.fromOAuthErrorResponse(403, { error: "access_denied" })).toMatchObject({
        _tag: "InvalidRequest",
        code: "access_denied",
        status: 403
      })
    })

    it("429 is RateLimited with the Retry-After, whatever the body", () => {
      const error = AuthError.fromOAuthErrorResponse(429, { error: "invalid_grant" }, 7_000)
      expect(error).toBeInstanceOf(AuthError.RateLimited)
      expect(error).toMatchObject({ retryAfterMillis: 7_000 })
      expect(error.message).toContain("7s")
      const bare = AuthError.fromOAuthErrorResponse(429, undefined)
      expect(bare._tag).toBe("RateLimited")
      expect(bare).not.toHaveProperty("retryAfterMillis", expect.anything())
      expect(AuthError.isTransient(error)).toBe(true)
    })

    it.each([500, 502, 503, 504])("%i is a transient Transport server-error", (status) => {
      const error = AuthError.fromOAuthErrorResponse(status, { error: "invalid_grant" })
      expect(error).toMatchObject({ _tag: "Transport", reason: "server-error", status })
      expect(AuthError.isTransient(error)).toBe(true)
    })

    it.each([
      [400, undefined],
      [400, "<html>Bad gateway</html>"],
      [403, { message: "forbidden" }],
      [400, { error: 42 }],
      [404, null]
    ])("HTTP %i with a non-OAuth body %j is a ProtocolViolation", (status, body) => {
      const error = AuthError.fromOAuthErrorResponse(status, body)
      expect(error).toMatchObject({ _tag: "ProtocolViolation", reason: "error-response-not-oauth" })
      expect(AuthError.isTransient(error)).toBe(false)
    })

    it("a bare 401 without an OAuth body is InvalidClient", () => {
      expect(AuthError.fromOAuthErrorResponse(401, undefined)).toMatchObject({
        _tag: "InvalidClient",
        status: 401
      })
    })

    it("shortens descriptions and strips control characters", () => {
      const error = AuthError.fromOAuthErrorResponse(400, {
        error: "invalid_grant",
        error_description: `line one\r\nInjected: yes ${"word ".repeat(100)}`
      })
      expect(error.message).not.toMatch(/[\r\n]/)
      expect((error as AuthError.InvalidGrant).description!.length).toBeLessThanOrEqual(203)
    })

    it("is not transient for client errors", () => {
      expect(AuthError.isTransient(AuthError.fromOAuthErrorResponse(400, { error: "invalid_grant" }))).toBe(
        false
      )
      expect(AuthError.isTransient(new Error("x"))).toBe(false)
      expect(AuthError.isTransient(new AuthError.Transport({ reason: "tls" }))).toBe(false)
      expect(AuthError.isTransient(new AuthError.Transport({ reason: "connection" }))).toBe(true)
    })
  })

  describe("secrecy", () => {
    it("server descriptions carrying a token never reach the output, for every OAuth answer", () => {
      for (const code of [
        "invalid_client",
        "unauthorized_client",
        "invalid_grant",
        "invalid_scope",
        "invalid_request"
      ]) {
        for (const status of [400, 401, 403]) {
          const error = AuthError.fromOAuthErrorResponse(status, { error: code, error_description: leaky })
          expectNoSecret(error)
          expect(error.message).toContain("<redacted>")
        }
      }
      // A token smuggled in as the error code itself.
      expectNoSecret(AuthError.fromOAuthErrorResponse(400, { error: secret }))
    })

    it("every error class, built with realistic inputs and a server description, keeps the token out", () => {
      const errors = [
        new AuthError.InvalidClient({ status: 401, description: leaky }),
        new AuthError.UnauthorizedClient({ status: 400, description: leaky }),
        new AuthError.InvalidGrant({ status: 400, description: leaky }),
        new AuthError.InvalidScope({ scope: "invoice", description: leaky }),
        new AuthError.InvalidRequest({ status: 400, code: "invalid_request", description: leaky }),
        new AuthError.ConsentRequired({ merchant: "DK12345678", reason: "revoked" }),
        new AuthError.ConsentRequired({ reason: "missing" }),
        new AuthError.Unauthorized({ method: "GET", path: "/api/merchants/me" }),
        new AuthError.RateLimited({ retryAfterMillis: 30_000, endpoint: "https://api.mobilepay.dk/token" }),
        new AuthError.Transport({
          reason: "timeout",
          status: 504,
          endpoint: "https://api.mobilepay.dk/token"
        }),
        new AuthError.ProtocolViolation({ reason: "token-response", description: leaky }),
        new AuthError.IdTokenRejected({ check: "nonce", description: leaky }),
        new AuthError.StateMismatch({ reason: "replayed" }),
        new AuthError.InsecureEndpoint({ url: "http://api.mobilepay.dk/connect/token" }),
        new AuthError.InvalidVat({ input: "SE12345678", reason: "country" }),
        new AuthError.StoreFailure({ operation: "load", reason: "corrupt", description: leaky })
      ]
      const tags = new Set(errors.map((e) => e._tag))
      expect(tags.size).toBe(15)
      for (const error of errors) {
        expect(error).toBeInstanceOf(Error)
        expect(error.message.length).toBeGreaterThan(0)
        expectNoSecret(error)
      }
    })

    it("descriptions keep what is useful: short text and endpoint URLs", () => {
      const endpoint = "https://api.sandbox.mobilepay.dk/merchant-authentication-openidconnect/connect/token"
      const error = new AuthError.ProtocolViolation({ reason: "not-json", description: endpoint })
      expect(error.description).toBe(endpoint)
      expect(new AuthError.InvalidGrant({ status: 400, description: "PKCE" }).message).toContain("PKCE")
    })

    it("a Redacted token inside a TokenSet never shows", () => {
      const tokens = Token.fromResponse(
        {
          access_token: Redacted.make(secret),
          refresh_token: Redacted.make(`${secret}-refresh`),
          id_token: Redacted.make(`${secret}-id`),
          token_type: "Bearer",
          expires_in: 300
        },
        0
      )
      expect(Option.isSome(tokens.refreshToken)).toBe(true)
      for (const text of [
        String(tokens),
        JSON.stringify(tokens),
        util.inspect(tokens, { depth: 10 }),
        `${tokens.accessToken}`
      ]) {
        expect(text).not.toContain(secret.slice(0, 30))
      }
    })
  })

  describe("messages", () => {
    it("say what to do", () => {
      expect(new AuthError.ConsentRequired({ reason: "missing", merchant: "DK12345678" }).message).toContain(
        "DK12345678"
      )
      expect(new AuthError.InvalidVat({ input: "SE1", reason: "country" }).message).toContain("DK or FI")
      expect(new AuthError.StateMismatch({ reason: "expired" }).message).toContain("expired")
      expect(new AuthError.Transport({ reason: "connection" }).message).toBe("transport failure: connection")
    })

    it("tags are what callers catch", () => {
      expect(new AuthError.InvalidGrant({ status: 400 })._tag).toBe("InvalidGrant")
      expect(new AuthError.StoreFailure({ operation: "save", reason: "conflict" })._tag).toBe("StoreFailure")
    })
  })
})

describe("AuthError.isAuthError", () => {
  const every: ReadonlyArray<AuthError.AuthError> = [
    new AuthError.InvalidClient({ status: 401 }),
    new AuthError.UnauthorizedClient({ status: 400 }),
    new AuthError.InvalidGrant({ status: 400 }),
    new AuthError.InvalidScope(),
    new AuthError.InvalidRequest({ code: "invalid_request" }),
    new AuthError.ConsentRequired({ reason: "missing" }),
    new AuthError.Unauthorized(),
    new AuthError.RateLimited({ reason: "cooling-down", retryAfterMillis: 1000 }),
    new AuthError.Transport({ reason: "timeout" }),
    new AuthError.ProtocolViolation({ reason: "not-json" }),
    new AuthError.IdTokenRejected({ check: "nonce" }),
    new AuthError.StateMismatch({ reason: "replayed" }),
    new AuthError.InsecureEndpoint({ url: "http://x.test/" }),
    new AuthError.InvalidVat({ input: "x", reason: "format" }),
    new AuthError.StoreFailure({ operation: "get", reason: "other" }),
    new AuthError.InvalidConfiguration({ setting: "s", description: "d" })
  ]

  it("recognises every error class by its type id, and no look-alike with the same tag", () => {
    for (const error of every) expect(AuthError.isAuthError(error), error._tag).toBe(true)
    expect(new Set(every.map((e) => e._tag)).size).toBe(every.length)
    for (const error of every) expect(AuthError.isAuthError({ ...error, _tag: error._tag })).toBe(false)
    expect(AuthError.isAuthError(new Error("Transport"))).toBe(false)
    expect(AuthError.isAuthError(undefined)).toBe(false)
  })

  it("every class sanitises what it is given (token-like runs redacted, a bad trace id dropped)", () => {
    const token = "eyJ" + "A".repeat(60)
    for (const error of [
      new AuthError.InvalidGrant({ status: 400, description: token, traceId: "not an id!" }),
      new AuthError.ProtocolViolation({ reason: "token-response", description: token }),
      new AuthError.InvalidConfiguration({ setting: "s", description: token })
    ]) {
      expect(JSON.stringify(error)).not.toContain(token)
      expect(error.message).not.toContain(token)
      expect("traceId" in error).toBe(false)
    }
  })

  it("a cool-down is RateLimited with the time left, worded as a cool-down", () => {
    const error = new AuthError.RateLimited({ reason: "cooling-down", retryAfterMillis: 30_000 })
    expect(AuthError.isTransient(error)).toBe(true)
    expect(error.message).toContain("cooling down")
    expect(error.message).toContain("30s")
  })
})
