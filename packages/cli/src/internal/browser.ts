/**
 * A scripted browser for the demo and tests: follows redirects, keeps cookies, reads the
 * first form of each page and submits it as a person would, and auto-submits MobilePay's
 * `form_post` page to the callback. Plain loopback HTTP through the Effect HttpClient.
 */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { Data, Effect } from "effect"

export class BrowserError extends Data.TaggedError("BrowserError")<{
  readonly step: string
  readonly detail: string
}> {
  override get message() {
    return `browser: ${this.step}: ${this.detail}`
  }
}

export interface Form {
  readonly action: string
  readonly method: string
  readonly fields: ReadonlyArray<readonly [string, string]>
  readonly buttons: ReadonlyArray<readonly [string, string]>
}

export interface Page {
  readonly url: string
  readonly status: number
  readonly html: string
}

const decodeEntities = (s: string) =>
  s
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&")

const attr = (tag: string, name: string): string | undefined => {
  const match = new RegExp(`\\b${name}\\s*=\\s*("([^"]*)"|'([^']*)')`, "i").exec(tag)
  return match ? decodeEntities(match[2] ?? match[3] ?? "") : undefined
}

/** The first form of a page, resolved against the page URL. */
export const parseForm = (page: Page): Form | undefined => {
  const form = /<form\b[^>]*>([\s\S]*?)<\/form>/i.exec(page.html)
  if (form === null) return undefined
  const open = /<form\b[^>]*>/i.exec(form[0])?.[0] ?? ""
  const body = form[1] ?? ""
  const fields: Array<readonly [string, string]> = []
  for (const input of body.match(/<input\b[^>]*>/gi) ?? []) {
    const name = attr(input, "name")
    const type = (attr(input, "type") ?? "text").toLowerCase()
    if (name !== undefined && type !== "submit") fields.push([name, attr(input, "value") ?? ""])
  }
  const buttons: Array<readonly [string, string]> = []
  for (const button of body.match(/<(button|input)\b[^>]*>/gi) ?? []) {
    const isSubmit = /^<button/i.test(button)
      ? (attr(button, "type") ?? "submit") === "submit"
      : attr(button, "type") === "submit"
    const name = attr(button, "name")
    if (isSubmit && name !== undefined) buttons.push([name, attr(button, "value") ?? ""])
  }
  return {
    action: new URL(attr(open, "action") ?? page.url, page.url).href,
    method: (attr(open, "method") ?? "get").toUpperCase(),
    fields,
    buttons
  }
}

export const make = Effect.gen(function* () {
  const client = yield* HttpClient.HttpClient
  const cookies = new Map<string, string>()

  const send = (
    request: HttpClientRequest.HttpClientRequest,
    step: string,
    hops = 0
  ): Effect.Effect<Page, BrowserError> =>
    Effect.gen(function* () {
      const cookieHeader = [...cookies].map(([k, v]) => `${k}=${v}`).join("; ")
      const withCookies = cookieHeader
        ? HttpClientRequest.setHeader(request, "cookie", cookieHeader)
        : request
      const response = yield* client
        .execute(withCookies)
        .pipe(Effect.mapError((e) => new BrowserError({ step, detail: e._tag })))
      for (const line of response.headers["set-cookie"]?.split(/,(?=[^;]+=)/) ?? []) {
        const [pair] = line.split(";")
        const at = pair?.indexOf("=") ?? -1
        if (pair && at > 0) cookies.set(pair.slice(0, at).trim(), pair.slice(at + 1).trim())
      }
      const location = response.headers["location"]
      if (response.status >= 300 && response.status < 400 && location !== undefined) {
        const next = new URL(location, request.url)
        // A fragment redirect ends the walk: the fragment never reaches a server.
        if (next.hash || hops > 10) return { url: next.href, status: response.status, html: "" }
        return yield* send(HttpClientRequest.get(next.href), step, hops + 1)
      }
      const html = yield* Effect.orElseSucceed(response.text, () => "")
      return { url: request.url, status: response.status, html }
    })

  const open = (url: string) => send(HttpClientRequest.get(url), "open")

  /** Fills the page's first form with `values`, presses `button` (name=value), submits it. */
  const submit = (page: Page, values: Readonly<Record<string, string>>, button?: string) =>
    Effect.gen(function* () {
      const form = parseForm(page)
      if (form === undefined)
        return yield* Effect.fail(new BrowserError({ step: "submit", detail: `no form on ${page.url}` }))
      const params = new URLSearchParams()
      for (const [name, value] of form.fields) params.set(name, values[name] ?? value)
      for (const [name, value] of Object.entries(values)) if (!params.has(name)) params.set(name, value)
      if (button !== undefined) {
        const pressed =
          form.buttons.find(([, value]) => value === button) ?? form.buttons.find(([name]) => name === button)
        if (pressed === undefined) {
          return yield* Effect.fail(
            new BrowserError({ step: "submit", detail: `no button ${button} on ${page.url}` })
          )
        }
        params.set(pressed[0], pressed[1])
      }
      const request =
        form.method === "POST"
          ? HttpClientRequest.post(form.action).pipe(HttpClientRequest.bodyUrlParams([...params]))
          : HttpClientRequest.get(`${form.action}${form.action.includes("?") ? "&" : "?"}${params}`)
      return yield* send(request, `submit ${new URL(form.action).pathname}`)
    })

  return { open, submit, cookies }
})
