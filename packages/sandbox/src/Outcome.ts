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
  | { readonly _tag: "Text"; readonly status: number; readonly text: string }

/** @internal Request parameters: a form body, a query string or headers. */
export type Params = Readonly<Record<string, string | undefined>>

/** @internal */
export const json = (status: number, body: unknown, headers?: Record<string, string>): Outcome =>
  headers === undefined ? { _tag: "Json", status, body } : { _tag: "Json", status, body, headers }

/** @internal RFC 6749 section 5.2. */
export const oauthError = (status: 400 | 401, error: string, description: string) =>
  json(status, { error, error_description: description })

/** @internal The same page whatever went wrong at authorize: MobilePay does not say. */
export const vague = (): Outcome => ({ _tag: "Html", status: 400, html: Pages.vagueError() })

/** @internal The API's 401: no detail, as MobilePay's. */
export const unauthorized = (): Outcome => ({ _tag: "Text", status: 401, text: "Unauthorized" })

/** @internal */
export const html = (page: string): Outcome => ({ _tag: "Html", status: 200, html: page })
