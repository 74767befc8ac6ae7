/**
 * The front channel: the authorize endpoint with its login and consent pages. Strict where
 * MobilePay is: any malformed request, even for a registered redirect URI, gets the same vague
 * page (MobilePay documents no redirect with details), a nonce is spent the moment it arrives,
 * and `openid offline_access`, PKCE S256 (a 43-character challenge), `state` and `nonce` are
 * required. Only the user's answer (`access_denied`) and `prompt=none` (`login_required`) go
 * back to the redirect URI, as OpenID Connect says they must.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { halfHash, randomId } from "./Credentials.js"
import type { Keys } from "./Keys.js"
import { isVat, type Merchants } from "./Merchants.js"
import type { Resolved, SandboxMerchant } from "./Options.js"
import { html, type Outcome, type Params, vague } from "./Outcome.js"
import * as Pages from "./Pages.js"
import type { Time } from "./Time.js"
import type { AuthorizeRequest, Consent, State } from "./World.js"

/** The S256 of a verifier: 32 bytes, so 43 base64url characters without padding. */
const s256Challenge = /^[A-Za-z0-9_-]{43}$/

/** `prompt` values the sandbox understands; it keeps no session, so `none` can never succeed. */
const prompts = new Set(["none", "login", "consent", "select_account"])

/** @internal */
export const idTokenClaims = (
  options: Resolved,
  request: AuthorizeRequest,
  at: number,
  authTime: number
) => ({
  iss: options.issuer,
  aud: request.client.clientId,
  sub: request.sub ?? "",
  nonce: request.nonce,
  iat: Math.floor(at / 1000),
  nbf: Math.floor(at / 1000),
  exp: Math.floor(at / 1000) + 300,
  auth_time: Math.floor(authTime / 1000),
  idp: "mobilepay-sandbox",
  amr: ["pwd"]
})

/** @internal */
export const make = (options: Resolved, keys: Keys, merchants: Merchants, state: State, time: Time) => {
  const redirectWith = (
    request: Pick<AuthorizeRequest, "redirectUri" | "responseMode">,
    params: Record<string, string>
  ): Outcome =>
    request.responseMode === "form_post"
      ? { _tag: "Html", status: 200, html: Pages.formPost(request.redirectUri, params) }
      : { _tag: "Redirect", location: `${request.redirectUri}#${new URLSearchParams(params)}` }

  const authorize = (p: Params): Effect.Effect<Outcome> =>
    Effect.sync(() => {
      const client = options.merchantClients.find((c) => c.clientId === p.client_id)
      // Unknown client or redirect URI: a vague page, never a redirect to an unlisted URI.
      if (
        client === undefined ||
        p.redirect_uri === undefined ||
        !client.redirectUris.includes(p.redirect_uri)
      ) {
        return vague()
      }
      // MobilePay invalidates a nonce once received, so a failed request spends it too.
      const nonceKey = p.nonce ? `${client.clientId}:${p.nonce}` : undefined
      const replayed = nonceKey !== undefined && state.usedNonces.has(nonceKey)
      if (nonceKey !== undefined) state.usedNonces.add(nonceKey)
      const responseMode =
        p.response_mode === "fragment"
          ? "fragment"
          : p.response_mode === undefined || p.response_mode === "form_post"
            ? "form_post"
            : undefined
      const scopes = (p.scope ?? "").split(" ").filter((s) => s.length > 0)
      const allowed = new Set(["openid", "offline_access", ...client.scopes])
      const prompt = (p.prompt ?? "").split(" ").filter((s) => s.length > 0)
      if (
        responseMode === undefined ||
        p.response_type !== "code id_token" ||
        !p.state ||
        !p.nonce ||
        (options.quirks.singleUseNonce && replayed) ||
        p.code_challenge_method !== "S256" ||
        p.code_challenge === undefined ||
        !s256Challenge.test(p.code_challenge) ||
        !scopes.includes("openid") ||
        !scopes.includes("offline_access") ||
        scopes.some((s) => !allowed.has(s)) ||
        (p.merchant_vat !== undefined && !isVat(p.merchant_vat)) ||
        prompt.some((s) => !prompts.has(s)) ||
        (prompt.includes("none") && prompt.length > 1)
      ) {
        return vague()
      }
      if (prompt.includes("none")) {
        return redirectWith(
          { redirectUri: p.redirect_uri, responseMode },
          { error: "login_required", state: p.state }
        )
      }
      const merchant: SandboxMerchant | undefined =
        p.merchant_vat === undefined ? undefined : merchants.byVat(p.merchant_vat)
      const id = randomId()
      state.pending.set(id, {
        client,
        redirectUri: p.redirect_uri,
        responseMode,
        state: p.state,
        nonce: p.nonce,
        challenge: p.code_challenge,
        scopes,
        merchant,
        sub: undefined
      })
      return html(Pages.login(id, merchant?.name))
    })

  const login = (p: Params): Effect.Effect<Outcome> =>
    Effect.sync(() => {
      const request = p.request === undefined ? undefined : state.pending.get(p.request)
      if (request === undefined || p.request === undefined) return vague()
      if (!p.username || !p.password) return html(Pages.login(p.request, request.merchant?.name))
      let sub = state.subjects.get(p.username)
      if (sub === undefined) {
        sub = globalThis.crypto.randomUUID()
        state.subjects.set(p.username, sub)
        state.users.set(sub, p.username)
      }
      request.sub = sub
      return html(Pages.consent(p.request, request.client.clientId, request.scopes, request.merchant?.name))
    })

  const consentDecision = (p: Params): Effect.Effect<Outcome> =>
    Effect.gen(function* () {
      const request = p.request === undefined ? undefined : state.pending.get(p.request)
      if (request === undefined || p.request === undefined || request.sub === undefined) return vague()
      state.pending.delete(p.request)
      if (p.decision !== "allow") {
        return redirectWith(request, {
          error: "access_denied",
          error_description: "the user denied consent",
          state: request.state
        })
      }
      const at = yield* time.now
      const consent: Consent = {
        id: randomId(16),
        clientId: request.client.clientId,
        merchant: request.merchant,
        revoked: false
      }
      state.consents.push(consent)
      const code = randomId()
      state.codes.set(code, {
        request,
        consent,
        expiresAt: at + options.codeLifetime * 1000,
        authTime: at,
        used: false
      })
      const idToken = yield* keys.sign({
        ...idTokenClaims(options, request, at, at),
        c_hash: yield* halfHash(code)
      })
      return redirectWith(request, { code, id_token: idToken, state: request.state })
    })

  return { authorize, login, consentDecision }
}
