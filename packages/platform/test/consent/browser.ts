/**
 * A merchant's browser, scripted with `fetch`: opens the authorize URL, follows redirects with
 * cookies, fills the sandbox's login form, presses approve (or deny) on its consent form, and
 * stops where the browser would hand over to the integrator: the `form_post` page (returned as
 * the POST `Request` it would send) or the redirect whose fragment carries the response.
 */
import { Effect } from "effect"

export type Callback =
  | { readonly _tag: "FormPost"; readonly action: string; readonly body: URLSearchParams }
  | { readonly _tag: "Redirect"; readonly url: string }

export interface Walk {
  readonly username?: string
  readonly password?: string
  /** Press deny on the consent page instead of approve. */
  readonly deny?: boolean
  /** Extra fields to set on every form (e.g. a merchant VAT the login page asks for). */
  readonly fields?: Readonly<Record<string, string>>
}

interface Form {
  readonly action: string
  readonly method: string
  readonly fields: Array<[string, string]>
  readonly buttons: Array<[string, string]>
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
  const match = new RegExp(`\\b${name}\\s*=\\s*("([^"]*)"|'([^']*)'|([^\\s>]+))`, "i").exec(tag)
  return match ? decode(match[2] ?? match[3] ?? match[4] ?? "") : undefined
}

const firstForm = (html: string, base: string): Form | undefined => {
  const form = /<form\b([^>]*)>([\s\S]*?)<\/form>/i.exec(html)
  if (form === null) return undefined
  const open = `<form ${form[1] ?? ""}>`
  const fields: Array<[string, string]> = []
  const buttons: Array<[string, string]> = []
  for (const tag of (form[2] ?? "").match(/<(input|button|textarea|select)\b[^>]*>/gi) ?? []) {
    const name = attr(tag, "name")
    if (name === undefined) continue
    const isButton = /^<button/i.test(tag)
      ? (attr(tag, "type") ?? "submit") === "submit"
      : attr(tag, "type") === "submit"
    if (isButton) buttons.push([name, attr(tag, "value") ?? ""])
    else fields.push([name, attr(tag, "value") ?? ""])
  }
  return {
    action: new URL(attr(open, "action") ?? base, base).href,
    method: (attr(open, "method") ?? "get").toUpperCase(),
    fields,
    buttons
  }
}

const isDeny = ([name, value]: [string, string]) =>
  /deny|decline|reject|cancel|no\b/i.test(`${name} ${value}`)

/**
 * Walks from `authorizeUrl` until the browser would deliver the authorization response to
 * `redirectUri`.
 */
export const walk = (authorizeUrl: string, redirectUri: string, options: Walk = {}) =>
  Effect.promise(async (): Promise<Callback> => {
    const cookies = new Map<string, string>()
    let request = new Request(authorizeUrl)
    for (let step = 0; step < 20; step++) {
      const headers = new Headers(request.headers)
      if (cookies.size > 0) headers.set("cookie", [...cookies].map(([k, v]) => `${k}=${v}`).join("; "))
      const response = await fetch(new Request(request, { headers, redirect: "manual" }))
      for (const line of response.headers.getSetCookie()) {
        const [pair] = line.split(";")
        const at = pair?.indexOf("=") ?? -1
        if (pair !== undefined && at > 0) cookies.set(pair.slice(0, at).trim(), pair.slice(at + 1).trim())
      }
      const location = response.headers.get("location")
      if (response.status >= 300 && response.status < 400 && location !== null) {
        const next = new URL(location, request.url)
        if (next.href.startsWith(redirectUri)) return { _tag: "Redirect", url: next.href }
        request = new Request(next.href)
        continue
      }
      const html = await response.text()
      if (response.status !== 200)
        throw new Error(`browser: HTTP ${response.status} at ${request.url}: ${html.slice(0, 200)}`)
      const form = firstForm(html, request.url)
      if (form === undefined) throw new Error(`browser: no form at ${request.url}`)
      if (form.action.startsWith(redirectUri)) {
        return { _tag: "FormPost", action: form.action, body: new URLSearchParams(form.fields) }
      }
      const values = new URLSearchParams()
      for (const [name, value] of form.fields) {
        if (/user|login|email/i.test(name) && value === "") values.set(name, options.username ?? "merchant")
        else if (/pass/i.test(name) && value === "") values.set(name, options.password ?? "password")
        else values.set(name, value)
      }
      for (const [name, value] of Object.entries(options.fields ?? {})) values.set(name, value)
      if (form.buttons.length > 0) {
        // Only the consent page offers a choice; other pages (login) have just their own button.
        const approve = form.buttons.find((b) => !isDeny(b)) ?? form.buttons[0]
        const pressed = options.deny ? (form.buttons.find(isDeny) ?? approve) : approve
        if (pressed === undefined) throw new Error("browser: no button to press")
        values.set(pressed[0], pressed[1])
      }
      request =
        form.method === "POST"
          ? new Request(form.action, {
              method: "POST",
              headers: { "content-type": "application/x-www-form-urlencoded" },
              body: values.toString()
            })
          : new Request(`${form.action}${form.action.includes("?") ? "&" : "?"}${values}`)
    }
    throw new Error("browser: too many steps")
  })

/** The `Request` the browser would POST to the redirect URI for a `form_post` callback. */
export const formPostRequest = (callback: Extract<Callback, { _tag: "FormPost" }>) =>
  new Request(callback.action, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: callback.body.toString()
  })
