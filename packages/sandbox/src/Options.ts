/**
 * Configuration of the offline sandbox: clients, lifetimes, merchants, and the MobilePay
 * quirks it reproduces.
 *
 * @since 0.1.0
 */

import type { KeyAndCertificate } from "./Certificate.js"
import type { SandboxVippsOptions, VippsEndpoint } from "./Vipps.js"

/**
 * A merchant-consent (OpenID Connect) client.
 *
 * @since 0.1.0
 * @category models
 */
export interface SandboxClientConfig {
  readonly clientId: string
  readonly clientSecret: string
  readonly redirectUris: ReadonlyArray<string>
  /** Product scopes the client may ask for, e.g. `["subscriptions", "invoice"]`. */
  readonly scopes: ReadonlyArray<string>
  /** Refresh-token rotation: MobilePay's `ReUse` or `OneTime`. */
  readonly rotation: "reuse" | "one-time"
  /** Refuse a refresh that does not repeat the PKCE `code_verifier`. Default false. */
  readonly requireVerifierOnRefresh?: boolean
}

/**
 * An integrator (PoS V10 client credentials) client.
 *
 * @since 0.1.0
 * @category models
 */
export interface SandboxIntegratorConfig {
  readonly clientId: string
  readonly clientSecret: string
}

/**
 * A merchant known to the sandbox.
 *
 * @since 0.1.0
 * @category models
 */
export interface SandboxMerchant {
  readonly vat: string
  readonly merchantId: string
  readonly name: string
}

/**
 * MobilePay behaviours that are documented but surprising, each switchable. The defaults are
 * what MobilePay does (or, where it "may" do something, the strict reading).
 *
 * @since 0.1.0
 * @category models
 */
export interface SandboxQuirks {
  /** Reject an authorize request that reuses a nonce (per client). Default true, as MobilePay. */
  readonly singleUseNonce?: boolean
  /**
   * After consent is revoked, let its access tokens keep working until they expire ("the access
   * token may keep working up to its 5 minutes"). Default false: 401 at once.
   */
  readonly revokedAccessTokensWorkUntilExpiry?: boolean
  /**
   * Require the gateway's `x-ibm-client-id` on the integrator token call, as MobilePay's docs
   * before December 2022 did. Default false; needs `gateway`.
   */
  readonly integratorTokenRequiresGatewayClientId?: boolean
  /**
   * A code exchange that fails (wrong `code_verifier` or `redirect_uri`) uses the code up, as an
   * IdentityServer that removes the code before validating it would. MobilePay does not say;
   * default false: the client may try again with the right values until the code expires.
   */
  readonly failedCodeExchangeBurnsCode?: boolean
}

/**
 * @since 0.1.0
 * @category models
 */
export interface SandboxOptions {
  /** Default `127.0.0.1`. */
  readonly host?: string
  /** Default 0: a free port. */
  readonly port?: number
  /** Merchant issuer; default MobilePay's `https://api.mobilepay.dk/merchant` (not the sandbox URL). */
  readonly issuer?: string
  /** Default `https://api.mobilepay.dk/integrator-authentication`. */
  readonly integratorIssuer?: string
  readonly merchantClients?: ReadonlyArray<SandboxClientConfig>
  readonly integratorClients?: ReadonlyArray<SandboxIntegratorConfig>
  /** When set, the API requires `x-ibm-client-id` (and the secret, if given). */
  readonly gateway?: { readonly clientId: string; readonly clientSecret?: string }
  /** Seconds; default 300. */
  readonly accessTokenLifetime?: number
  /** Seconds; default 3700. */
  readonly integratorTokenLifetime?: number
  /** Seconds; default 13 months, renewed on every use (sliding). */
  readonly refreshTokenLifetime?: number
  /** Seconds; default 300. */
  readonly codeLifetime?: number
  /**
   * Seconds the sandbox's clock runs ahead of Effect's `Clock` from the start; default 0. The
   * admin API (`POST /admin/clock/advance`) and `advanceClock` move it further at run time.
   */
  readonly clockOffset?: number
  readonly merchants?: ReadonlyArray<SandboxMerchant>
  /**
   * Serve https: `true` generates a self-signed certificate for `localhost`, `127.0.0.1` and `::1`
   * at start (read it from the service's `certificate`); or give your own key and certificate.
   * Default false: plain http on loopback.
   */
  readonly https?: boolean | KeyAndCertificate
  readonly quirks?: SandboxQuirks
  /** Vipps MobilePay's token endpoints and ePayment API (the migration path); default clients when absent. */
  readonly vipps?: SandboxVippsOptions
}

/**
 * The endpoints that have request counters and fault knobs.
 *
 * @since 0.1.0
 * @category models
 */
export type Endpoint =
  | "discovery"
  | "jwks"
  | "authorize"
  | "merchantToken"
  | "integratorToken"
  | "revocation"
  | "api"
  | VippsEndpoint

/**
 * Faults to inject on an endpoint. Deterministic: `errorRate` 0.5 fails requests 1, 3, 5, ...
 *
 * @since 0.1.0
 * @category models
 */
export interface Fault {
  readonly latencyMs?: number
  /** Share (0..1) of requests answered 503, spread evenly, starting with the first request. */
  readonly errorRate?: number
  readonly status429?: { readonly retryAfterSeconds: number }
  readonly malformedBody?: "json" | "html"
  readonly dropConnection?: boolean
  /**
   * Handle the request (a token endpoint issues tokens and spends a one-time refresh token),
   * then drop the connection: the client never hears, as when MobilePay's answer is lost on the
   * way back. Unlike `dropConnection` and `latencyMs`, which fault before the handler runs.
   */
  readonly loseResponse?: boolean
  /** Answer the next N requests with the API's vague 401, as if the token had been revoked. */
  readonly unauthorizedCount?: number
  /** Only the next N requests to the endpoint meet the fault; then it is cleared. Default: all. */
  readonly times?: number
}

/**
 * The demo clients and merchants the sandbox starts with when none are given.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaults = {
  merchantClient: {
    clientId: "sandbox-merchant-client",
    clientSecret: "sandbox-merchant-secret",
    redirectUris: ["http://127.0.0.1:8765/callback", "http://localhost:8765/callback"],
    scopes: ["subscriptions", "invoice", "transactionreporting", "merchantpayments", "webhooks"],
    rotation: "one-time"
  } satisfies SandboxClientConfig,
  integratorClient: {
    clientId: "sandbox-integrator-client",
    clientSecret: "sandbox-integrator-secret"
  } satisfies SandboxIntegratorConfig,
  merchants: [
    { vat: "DK12345678", merchantId: "8c2c6d4e-1f0a-4d8e-9a51-1b3f0d6a7e01", name: "Sandbox Café ApS" },
    { vat: "DK87654321", merchantId: "0f5b2a9c-3d7e-4c1a-8b6f-2e4d9a1c5b02", name: "Sandbox Bikes A/S" },
    { vat: "FI12345678", merchantId: "5a7e9c1b-2d4f-4e6a-9c8b-3f1d5e7a9b03", name: "Sandbox Oy" }
  ] satisfies ReadonlyArray<SandboxMerchant>
} as const

/** @internal */
export interface Resolved {
  readonly host: string
  readonly port: number
  readonly issuer: string
  readonly integratorIssuer: string
  readonly merchantClients: ReadonlyArray<SandboxClientConfig>
  readonly integratorClients: ReadonlyArray<SandboxIntegratorConfig>
  readonly gateway: { readonly clientId: string; readonly clientSecret?: string } | undefined
  readonly accessTokenLifetime: number
  readonly integratorTokenLifetime: number
  readonly refreshTokenLifetime: number
  readonly codeLifetime: number
  readonly clockOffset: number
  readonly merchants: ReadonlyArray<SandboxMerchant>
  readonly quirks: Required<SandboxQuirks>
}

/** @internal */
export const resolve = (options: SandboxOptions): Resolved => ({
  host: options.host ?? "127.0.0.1",
  port: options.port ?? 0,
  issuer: options.issuer ?? "https://api.mobilepay.dk/merchant",
  integratorIssuer: options.integratorIssuer ?? "https://api.mobilepay.dk/integrator-authentication",
  merchantClients: options.merchantClients ?? [defaults.merchantClient],
  integratorClients: options.integratorClients ?? [defaults.integratorClient],
  gateway: options.gateway,
  accessTokenLifetime: options.accessTokenLifetime ?? 300,
  integratorTokenLifetime: options.integratorTokenLifetime ?? 3700,
  refreshTokenLifetime: options.refreshTokenLifetime ?? 395 * 24 * 3600,
  codeLifetime: options.codeLifetime ?? 300,
  clockOffset: options.clockOffset ?? 0,
  merchants: options.merchants ?? defaults.merchants,
  quirks: {
    singleUseNonce: options.quirks?.singleUseNonce ?? true,
    revokedAccessTokensWorkUntilExpiry: options.quirks?.revokedAccessTokensWorkUntilExpiry ?? false,
    integratorTokenRequiresGatewayClientId: options.quirks?.integratorTokenRequiresGatewayClientId ?? false,
    failedCodeExchangeBurnsCode: options.quirks?.failedCodeExchangeBurnsCode ?? false
  }
})
