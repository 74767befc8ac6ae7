// Node's `IncomingMessage` to a Web `Request` and a Web `Response` onto a `ServerResponse`, for the
// Node, Express and Fastify adapters. A body a framework already parsed (Express's
// `express.urlencoded()`, `@fastify/formbody`) is encoded back into the form it came from, so the
// callback is checked exactly as if it had been read here.
import type { IncomingMessage, ServerResponse } from "node:http"

// A form_post callback is a few kilobytes; anything much larger is not one.
const maxBody = 64 * 1024

// Hop-by-hop and framing headers describe the original bytes, not the Request built here.
const dropped = new Set([
  "host",
  "connection",
  "content-length",
  "transfer-encoding",
  "keep-alive",
  "expect",
  "upgrade"
])

/** A request the adapter answers itself, without reaching the handler. */
export class Refused {
  constructor(readonly status: 400 | 413) {}
}

const formOf = (parsed: object): string | Refused => {
  const form = new URLSearchParams()
  for (const [name, value] of Object.entries(parsed)) {
    if (typeof value === "string") form.append(name, value)
    else if (Array.isArray(value) && value.every((v): v is string => typeof v === "string")) {
      for (const v of value) form.append(name, v)
    } else return new Refused(400) // nested fields (qs's a[b]=c) are no callback of ours
  }
  return form.toString()
}

const readBody = async (req: IncomingMessage): Promise<Uint8Array<ArrayBuffer> | Refused> => {
  const chunks: Array<Uint8Array> = []
  let size = 0
  for await (const chunk of req) {
    const bytes: Uint8Array = typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk
    size += bytes.byteLength
    if (size > maxBody) return new Refused(413)
    chunks.push(bytes)
  }
  return new Uint8Array(Buffer.concat(chunks))
}

const bodyOf = async (
  req: IncomingMessage,
  parsed: unknown
): Promise<string | Uint8Array<ArrayBuffer> | Refused> => {
  if (typeof parsed === "string") return parsed
  if (parsed instanceof Uint8Array) return new Uint8Array(parsed)
  if (parsed !== undefined && parsed !== null)
    return typeof parsed === "object" ? formOf(parsed) : new Refused(400)
  // Nobody read the stream: read it here (an ended stream yields nothing).
  return readBody(req)
}

/**
 * The Web `Request` for a Node request. `parsed` is the body a framework already read (Express's
 * `req.body`, Fastify's `request.body`); `url` the path and query (default `req.url`). The origin
 * is a fixed placeholder: the callback never trusts the `Host` header.
 */
export const toWebRequest = async (
  req: IncomingMessage,
  parsed: unknown,
  url: string | undefined = req.url
): Promise<Request | Refused> => {
  const headers = new Headers()
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || dropped.has(name)) continue
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v)
  }
  const method = req.method ?? "GET"
  const target = new URL(url ?? "/", "http://localhost")
  if (method === "GET" || method === "HEAD") return new Request(target, { method, headers })
  const body = await bodyOf(req, parsed)
  if (body instanceof Refused) return body
  return new Request(target, { method, headers, body })
}

/** The status, headers (every `Set-Cookie` kept apart) and body of a Web `Response`. */
export const parts = async (response: Response) => {
  const headers: Record<string, string | Array<string>> = {}
  response.headers.forEach((value, name) => {
    if (name !== "set-cookie") headers[name] = value
  })
  const cookies = response.headers.getSetCookie()
  if (cookies.length > 0) headers["set-cookie"] = cookies
  return { status: response.status, headers, body: Buffer.from(await response.arrayBuffer()) }
}

/** Writes a Web `Response` to a Node `ServerResponse`. */
export const send = async (res: ServerResponse, response: Response): Promise<void> => {
  const { body, headers, status } = await parts(response)
  res.statusCode = status
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value)
  res.setHeader("content-length", body.byteLength)
  res.end(body)
}

/** The plain answer to a request refused before the handler. */
export const refusal = (refused: Refused): Response =>
  new Response(refused.status === 413 ? "Payload Too Large" : "Bad Request", {
    status: refused.status,
    headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" }
  })
