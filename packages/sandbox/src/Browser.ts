/**
 * A scripted browser for the sandbox's pages: opens an authorize URL, keeps cookies, follows
 * redirects, fills the login form, presses Allow (or Deny) on the consent page, and stops where a
 * real browser would hand the authorization response to the integrator: the `form_post` page
 * (as the `Request` it would send) or the redirect whose fragment carries the response. For
 * tests and demos that run consent without a person; loopback only.
 *
 * @since 0.1.0
 */
import { Data, Effect } from "effect"

/**
 * Where the walk ended: the callback a browser would deliver.
 *
 * @since 0.1.0
 * @category models
 */
export type Callback =
  | { readonly _tag: "FormPost"; readonly request: Request }
  | { readonly _tag: "Redirect"; readonly url: string }

/**
 * @since 0.1.0
 * @category errors
 */
export class BrowserError extends Data.TaggedError("BrowserError")<{
  readonly step: string
  readonly detail: string
}> {
  override get message() {
    return `browser: ${this.step}: ${this.detail}`
  }
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Where the walk stops: the integrator's redirect URI. */
  readonly redirectUri: string
  readonly username?: string
  readonly password?: string
  /** Press Deny instead of Allow. */
  readonly deny?: boolean
}

interface Form {
  readonly action: string
  readonly method: string
  readonly fields: ReadonlyArray<readonly [string, string]>
  readonly buttons: ReadonlyArray<readonly [string, string]>
}

const decode = (s: string) =>
  s
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n)))
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&")

const attr = (tag: string, name: string): string | undefined => {
  const match = new RegExp(`\\b${name}\\s*=\\s*("([^"]*)"|'([^']*)')`, "i").exec(tag)
  return match ? decode(match[2] ?? match[3] ?? "") : undefined
}

/**
 * The first form of an HTML page, its action resolved against `base`.
 *
 * @since 0.1.0
 * @category parsing
 */
export const firstForm = (html: string, base: string): Form | undefined => {
  const form = /<form\b([^>]*)>([\s\S]*?)<\/form>/i.exec(html)
  if (form === null) return undefined
  const open = `<form ${form[1] ?? ""}>`
  const fields: Array<readonly [string, string]> = []
  const buttons: Array<readonly [string, string]> = []
  for (const tag of (form[2] ?? "").match(/<(input|button)\b[^>]*>/gi) ?? []) {
    const name = attr(tag, "name")
    if (name === undefined) continue
    const submit = /^<button/i.test(tag)
      ? (attr(tag, "type") ?? "submit") === "submit"
      : attr(tag, "type") === "submit"
    ;(submit ? buttons : fields).push([name, attr(tag, "value") ?? ""])
  }
  return {
    action: new URL(attr(open, "action") ?? base, base).href,
    method: (attr(open, "method") ?? "get").toUpperCase(),
    fields,
    buttons
  }
}

const formRequest = (form: Form, values: URLSearchParams) =>
  form.method === "POST"
    ? new Request(form.action, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: values.toString()
      })
    : new Request(`${form.action}${form.action.includes("?") ? "&" : "?"}${values}`)

/**
 * Walks from `authorizeUrl` through login and consent to the callback.
 *
 * @since 0.1.0
 * @category constructors
 */
export const consent = (authorizeUrl: string, options: Options): Effect.Effect<Callback, BrowserError> =>
  Effect.gen(function* () {
    const cookies = new Map<string, string>()
    let request = new Request(authorizeUrl)
    for (let step = 0; step < 20; step++) {
      const headers = new Headers(request.headers)
      if (cookies.size > 0) headers.set("cookie", [...cookies].map(([k, v]) => `${k}=${v}`).join("; "))
      const sent = new Request(request, { headers, redirect: "manual" })
      const response = yield* Effect.tryPromise({
        try: () => fetch(sent),
        catch: () => new BrowserError({ step: "fetch", detail: new URL(sent.url).pathname })
      })
      for (const line of response.headers.getSetCookie()) {
        const [pair] = line.split(";")
        const at = pair?.indexOf("=") ?? -1
        if (pair !== undefined && at > 0) cookies.set(pair.slice(0, at).trim(), pair.slice(at + 1).trim())
      }
      const location = response.headers.get("location")
      if (response.status >= 300 && response.status < 400 && location !== null) {
        const next = new URL(location, request.url)
        if (next.href.startsWith(options.redirectUri)) return { _tag: "Redirect", url: next.href } as const
        request = new Request(next.href)
        continue
      }
      const html = yield* Effect.promise(() => response.text())
      const page = new URL(request.url).pathname
      if (response.status !== 200) {
        return yield* Effect.fail(new BrowserError({ step: page, detail: `HTTP ${response.status}` }))
      }
      const form = firstForm(html, request.url)
      if (form === undefined) return yield* Effect.fail(new BrowserError({ step: page, detail: "no form" }))
      const values = new URLSearchParams()
      for (const [name, value] of form.fields) {
        if (/user/i.test(name) && value === "") values.set(name, options.username ?? "merchant")
        else if (/pass/i.test(name) && value === "") values.set(name, options.password ?? "password")
        else values.set(name, value)
      }
      if (form.action.startsWith(options.redirectUri)) {
        return { _tag: "FormPost", request: formRequest(form, values) } as const
      }
      const isDeny = ([name, value]: readonly [string, string]) =>
        /deny|decline|cancel/i.test(`${name} ${value}`)
      const pressed = options.deny ? form.buttons.find(isDeny) : form.buttons.find((b) => !isDeny(b))
      if (pressed !== undefined) values.set(pressed[0], pressed[1])
      request = formRequest(form, values)
    }
    return yield* Effect.fail(new BrowserError({ step: "walk", detail: "too many steps" }))
  })
