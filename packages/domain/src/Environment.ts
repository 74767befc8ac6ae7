/**
 * Where MobilePay lives: sandbox and production, Denmark and Finland, as data, plus
 * `custom` for any compatible provider (our offline sandbox, a test provider).
 * The merchant issuer is configuration of its own: MobilePay's issuer differs from its
 * discovery URL, and sandbox tokens carry the production issuer.
 *
 * @since 0.1.0
 */
import { Data } from "effect"

/**
 * @since 0.1.0
 * @category models
 */
export interface Environment {
  readonly name: string
  /** Sandbox environments accept localhost redirect URIs; production never does. */
  readonly kind: "sandbox" | "production"
  readonly country: "DK" | "FI" | undefined
  /** OpenID discovery document of the merchant-consent provider. */
  readonly discoveryUrl: string
  /** The issuer ID tokens must carry (validated; not derived from the discovery URL). */
  readonly issuer: string
  /** Client-credentials token endpoint of integrator authentication (PoS V10). */
  readonly integratorTokenUrl: string
  /** The issuer of integrator tokens. */
  readonly integratorIssuer: string
  /** Base URL of the APIs. */
  readonly apiBaseUrl: string
  /** Plain `http:` to a loopback address is allowed (tests and the offline sandbox only). */
  readonly allowInsecureLoopback: boolean
}

const make = (env: Environment): Environment => Data.struct(env)

const productionIssuer = "https://api.mobilepay.dk/merchant"
const integratorIssuer = "https://api.mobilepay.dk/integrator-authentication"

/**
 * MobilePay's Danish sandbox.
 *
 * @since 0.1.0
 * @category environments
 */
export const sandboxDK: Environment = make({
  name: "sandbox-dk",
  kind: "sandbox",
  country: "DK",
  discoveryUrl: "https://sandprod-admin.mobilepay.dk/account/.well-known/openid-configuration",
  issuer: productionIssuer,
  integratorTokenUrl: "https://api.sandbox.mobilepay.dk/integrator-authentication/connect/token",
  integratorIssuer,
  apiBaseUrl: "https://api.sandbox.mobilepay.dk",
  allowInsecureLoopback: false
})

/**
 * MobilePay's Finnish sandbox (same token host as Denmark).
 *
 * @since 0.1.0
 * @category environments
 */
export const sandboxFI: Environment = make({
  ...sandboxDK,
  name: "sandbox-fi",
  country: "FI",
  discoveryUrl: "https://sandprod-admin.mobilepay.fi/account/.well-known/openid-configuration"
})

/**
 * MobilePay production, Denmark.
 *
 * @since 0.1.0
 * @category environments
 */
export const productionDK: Environment = make({
  name: "production-dk",
  kind: "production",
  country: "DK",
  discoveryUrl: "https://admin.mobilepay.dk/account/.well-known/openid-configuration",
  issuer: productionIssuer,
  integratorTokenUrl: "https://api.mobilepay.dk/integrator-authentication/connect/token",
  integratorIssuer,
  apiBaseUrl: "https://api.mobilepay.dk",
  allowInsecureLoopback: false
})

/**
 * MobilePay production, Finland.
 *
 * @since 0.1.0
 * @category environments
 */
export const productionFI: Environment = make({
  ...productionDK,
  name: "production-fi",
  country: "FI",
  discoveryUrl: "https://admin.mobilepay.fi/account/.well-known/openid-configuration"
})

/**
 * The four built-in environments by name.
 *
 * @since 0.1.0
 * @category environments
 */
export const builtIn: Readonly<
  Record<"sandbox-dk" | "sandbox-fi" | "production-dk" | "production-fi", Environment>
> = {
  "sandbox-dk": sandboxDK,
  "sandbox-fi": sandboxFI,
  "production-dk": productionDK,
  "production-fi": productionFI
}

/**
 * Any compatible provider, such as the offline sandbox. `kind` defaults to `"sandbox"`,
 * `allowInsecureLoopback` to `false`.
 *
 * @since 0.1.0
 * @category environments
 */
export const custom = (options: {
  readonly name?: string
  readonly kind?: "sandbox" | "production"
  readonly country?: "DK" | "FI"
  readonly discoveryUrl: string
  readonly issuer: string
  readonly integratorTokenUrl: string
  readonly integratorIssuer?: string
  readonly apiBaseUrl: string
  readonly allowInsecureLoopback?: boolean
}): Environment =>
  make({
    name: options.name ?? "custom",
    kind: options.kind ?? "sandbox",
    country: options.country,
    discoveryUrl: options.discoveryUrl,
    issuer: options.issuer,
    integratorTokenUrl: options.integratorTokenUrl,
    integratorIssuer: options.integratorIssuer ?? integratorIssuer,
    apiBaseUrl: options.apiBaseUrl,
    allowInsecureLoopback: options.allowInsecureLoopback ?? false
  })

const loopbackHosts = new Set(["[::1]", "localhost", "[::ffff:7f00:1]"])
// The WHATWG parser normalises IPv4 literals (`127.1` becomes `127.0.0.1`), so a dotted quad
// is an address; a name such as `127.0.0.1.nip.io` is a DNS name that may resolve anywhere.
const loopbackIPv4 = /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/
// IPv4-mapped IPv6 of 127.0.0.0/8 as the parser writes it (`[::ffff:127.0.0.1]` is `[::ffff:7f00:1]`).
const loopbackMapped = /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/

/**
 * True when a URL points at this machine by address (`127.0.0.0/8`, `[::1]`, and their
 * IPv4-mapped IPv6 form) or as `localhost`. Names that merely start with `127.` or `localhost`
 * are DNS names, not loopback. This is the rule for endpoints we connect to.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isLoopback = (url: URL): boolean =>
  loopbackHosts.has(url.hostname) || loopbackIPv4.test(url.hostname) || loopbackMapped.test(url.hostname)

/**
 * True when a browser would take a URL to this machine: every {@link isLoopback} address plus
 * the names browsers resolve locally whatever DNS says (RFC 6761): `localhost.` (with its root
 * dot) and any `*.localhost` name. This is the rule for redirect URIs, which the merchant's
 * browser follows.
 *
 * @since 0.1.0
 * @category predicates
 */
export const refersToLoopback = (url: URL): boolean => {
  const name = url.hostname.toLowerCase().replace(/\.$/, "")
  return (
    isLoopback(url) ||
    name === "localhost" ||
    name.endsWith(".localhost") ||
    // The unspecified addresses reach this machine on most systems.
    name === "0.0.0.0" ||
    name === "[::]"
  )
}

/**
 * True when the environment may use this endpoint: `https:`, or `http:` to loopback when
 * the environment allows it.
 *
 * @since 0.1.0
 * @category predicates
 */
export const allowsEndpoint = (env: Pick<Environment, "allowInsecureLoopback">, url: URL): boolean =>
  url.protocol === "https:" || (url.protocol === "http:" && env.allowInsecureLoopback && isLoopback(url))

/**
 * True when the environment accepts this redirect URI: `https:`, and loopback (`http:` or
 * `https:`) only in sandbox environments (MobilePay: remove localhost after development).
 *
 * @since 0.1.0
 * @category predicates
 */
export const allowsRedirectUri = (env: Pick<Environment, "kind">, url: URL): boolean =>
  refersToLoopback(url)
    ? env.kind === "sandbox" && (url.protocol === "http:" || url.protocol === "https:")
    : url.protocol === "https:"
