/**
 * A free loopback port: bound once, released, then handed out (for callback listeners whose
 * URL must be known before they start, as a redirect URI must).
 */
import { Effect } from "effect"
import * as Net from "node:net"

export const freePort = Effect.async<number>((resume) => {
  const server = Net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})
