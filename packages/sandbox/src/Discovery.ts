/**
 * The OpenID Provider metadata the sandbox publishes (at both locations MobilePay documents): its
 * own URLs, MobilePay's issuer (which is not the discovery URL), and only what MobilePay supports:
 * `code id_token`, PKCE S256, RS256, `client_secret_post` and `client_secret_basic`.
 *
 * @since 0.1.0
 */

/** @internal */
export const document = (
  issuer: string,
  baseUrl: string,
  paths: {
    readonly authorize: string
    readonly merchantToken: string
    readonly revocation: string
    readonly jwks: string
  }
) => ({
  issuer,
  authorization_endpoint: `${baseUrl}${paths.authorize}`,
  token_endpoint: `${baseUrl}${paths.merchantToken}`,
  revocation_endpoint: `${baseUrl}${paths.revocation}`,
  jwks_uri: `${baseUrl}${paths.jwks}`,
  response_types_supported: ["code id_token"],
  response_modes_supported: ["form_post", "fragment"],
  grant_types_supported: ["authorization_code", "refresh_token"],
  subject_types_supported: ["public"],
  id_token_signing_alg_values_supported: ["RS256"],
  code_challenge_methods_supported: ["S256"],
  token_endpoint_auth_methods_supported: ["client_secret_post", "client_secret_basic"],
  revocation_endpoint_auth_methods_supported: ["client_secret_post", "client_secret_basic"],
  scopes_supported: [
    "openid",
    "offline_access",
    "subscriptions",
    "invoice",
    "transactionreporting",
    "merchantpayments",
    "webhooks"
  ],
  claims_supported: [
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "nonce",
    "c_hash",
    "at_hash",
    "auth_time",
    "idp",
    "amr"
  ]
})
