/**
 * What a sandbox handler answers, before it becomes an HTTP response: JSON, an HTML page, a
 * redirect or plain text. Keeping the rules transport-free lets `World` and `Api` stay plain
 * functions of their parameters and the `Clock`.
 *
 * @since 0.1.0
 */
import * as Pages from "./Pages.js"

/** @internal */
export type Outcome =
  | {
      readonly _tag: "Json"
      readonly status: number
      readonly body: unknown
      readonly headers?: Record<string, string>
    }
  | { readonly _tag: "Html"; readonly status: number; readonly html: string }
  | { readonly _tag: "Redirect"; readonly location: string }
  | {
      readonly _tag: "Text"
      readonly status: number
      readonly text: string
      readonly headers?: Record<string, string>
    }

/** @internal Request parameters: a form body, a query string or headers. */
export type Params = Readonly<Record<string, string | undefined>>

/** @internal */
export const json = (status: number, body: unknown, headers?: Record<string, string>): Outcome =>
  headers === undefined ? { _tag: "Json", status, body } : { _tag: "Json", status, body, headers }

/**
 * @internal RFC 6749 section 5.2. A 401 names the scheme a client should authenticate with, as
 * the RFC requires once a client has tried `Authorization: Basic`.
 */
export const oauthError = (status: 400 | 401, error: string, description: string) =>
  json(
    status,
    { error, error_description: description },
    status === 401 ? { "www-authenticate": 'Basic realm="MobilePay"' } : undefined
  )

/** @internal The same page whatever went wrong at authorize: MobilePay does not say. */
export const vague = (): Outcome => ({ _tag: "Html", status: 400, html: Pages.vagueError() })

/**
 * @internal RFC 6750 section 3: a 401 says the scheme, and `invalid_token` when a token was
 * presented; nothing more, so it stays as vague as MobilePay's.
 */
export const unauthorizedHeaders = (presented = true): Record<string, string> => ({
  "www-authenticate": presented
    ? 'Bearer realm="MobilePay", error="invalid_token"'
    : 'Bearer realm="MobilePay"'
})

/** @internal The API's 401: no detail, as MobilePay's. */
export const unauthorized = (presented = true): Outcome => ({
  _tag: "Text",
  status: 401,
  text: "Unauthorized",
  headers: unauthorizedHeaders(presented)
})

/** @internal */
export const html = (page: string): Outcome => ({ _tag: "Html", status: 200, html: page })
