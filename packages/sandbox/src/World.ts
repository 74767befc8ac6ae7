/**
 * The authorization server's state: pending logins, codes, refresh tokens, consents, used nonces
 * and revoked access tokens, shared by the front channel (`Authorize`) and the token endpoints
 * (`Tokens`). Transport-free: handlers take the request's parameters and answer an `Outcome`
 * that the HTTP layer writes out. Time from the sandbox's `Time`, so a test can run the sandbox
 * under `TestClock` and a process can be moved forward through the admin API.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { Grants } from "./Api.js"
import * as Authorize from "./Authorize.js"
import type { Keys } from "./Keys.js"
import type { Merchants } from "./Merchants.js"
import type { Resolved, SandboxClientConfig, SandboxMerchant } from "./Options.js"
import type { Time } from "./Time.js"
import * as Tokens from "./Tokens.js"

/** @internal An authorize request that passed every check, waiting for login and consent. */
export interface AuthorizeRequest {
  readonly client: SandboxClientConfig
  readonly redirectUri: string
  readonly responseMode: "form_post" | "fragment"
  readonly state: string
  readonly nonce: string
  readonly challenge: string
  readonly scopes: ReadonlyArray<string>
  readonly merchant: SandboxMerchant | undefined
  sub: string | undefined
}

/** @internal */
export interface Consent {
  readonly id: string
  readonly clientId: string
  readonly merchant: SandboxMerchant | undefined
  revoked: boolean
}

/** @internal */
export interface Code {
  readonly request: AuthorizeRequest
  readonly consent: Consent
  readonly expiresAt: number
  readonly authTime: number
  used: boolean
}

/** @internal */
export interface RefreshRecord {
  readonly consent: Consent
  readonly request: AuthorizeRequest
  expiresAt: number
  active: boolean
}

/** @internal Everything the server remembers, in memory (a restart forgets it). */
export interface State {
  readonly pending: Map<string, AuthorizeRequest>
  /** `clientId:nonce` of every nonce received, whether or not its request succeeded. */
  readonly usedNonces: Set<string>
  readonly codes: Map<string, Code>
  readonly refreshTokens: Map<string, RefreshRecord>
  readonly consents: Array<Consent>
  /** username -> sub (a GUID per user), and back. */
  readonly subjects: Map<string, string>
  readonly users: Map<string, string>
  /** `jti` of access tokens revoked at the revocation endpoint. */
  readonly revokedAccessTokens: Set<string>
}

/** @internal */
export const make = (options: Resolved, keys: Keys, merchants: Merchants, time: Time) => {
  const state: State = {
    pending: new Map(),
    usedNonces: new Set(),
    codes: new Map(),
    refreshTokens: new Map(),
    consents: [],
    subjects: new Map(),
    users: new Map(),
    revokedAccessTokens: new Set()
  }
  const front = Authorize.make(options, keys, merchants, state, time)
  const tokens = Tokens.make(options, keys, state, time)

  const revokeConsent = (merchant: string) =>
    Effect.sync(() => {
      let n = 0
      for (const consent of state.consents) {
        if (
          !consent.revoked &&
          (consent.merchant?.merchantId === merchant || consent.merchant?.vat === merchant)
        ) {
          consent.revoked = true
          n++
        }
      }
      return n
    })

  const grants: Grants = {
    consentRevoked: (sid) => state.consents.some((c) => c.id === sid && c.revoked),
    accessTokenRevoked: (jti) => state.revokedAccessTokens.has(jti),
    merchantsOf: (sub) => {
      const username = state.users.get(sub)
      return username === undefined ? [] : merchants.ofUser(username)
    }
  }

  return { ...front, ...tokens, revokeConsent, grants }
}

/** @internal */
export type World = ReturnType<typeof make>
