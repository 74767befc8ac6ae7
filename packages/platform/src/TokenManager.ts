/**
 * The engine behind every token: runs the domain's `TokenLifecycle` machine for any token
 * source and key. In one process, concurrent callers on a key share one refresh (single
 * flight); with a shared store, processes share one too: the refresher takes the store's
 * lease, re-reads (another instance may have refreshed already), refreshes only if still
 * needed, and writes the rotated grant before anyone is handed the new access token.
 *
 * @since 0.1.0
 */
import { AuthError, Token, TokenLifecycle } from "@mobilepay-auth/domain"
import {
  Context,
  Deferred,
  Duration,
  Effect,
  FiberId,
  FiberSet,
  Layer,
  Metric,
  Option,
  Random,
  Redacted,
  type Scope
} from "effect"
import { type Grant, GrantSchema } from "./Grant.js"
import { TokenVault } from "./TokenVault.js"

/**
 * Where tokens come from. `obtain` gets a new grant: for client credentials it ignores the
 * current one; for refresh it uses its refresh token and attributes. It should fail with
 * `InvalidGrant` or `ConsentRequired` when the grant is gone, and with `Transport` /
 * `RateLimited` for what a retry may fix; anything else is final for the refresh cycle.
 *
 * @since 0.1.0
 * @category models
 */
export interface TokenSource<E> {
  /** Unique per grant, e.g. `merchant:<client>:<merchant>`. Not secret: it names, never holds. */
  readonly key: string
  /** Label for metrics and spans, e.g. `integrator` or `merchant`. */
  readonly kind: string
  /** Whom the grant belongs to, as errors should name it (e.g. the merchant). Default: `key`. */
  readonly subject?: string
  /** Keep the grant in the `TokenVault` (merchant grants) or in memory only. */
  readonly persistent: boolean
  readonly obtain: (current: Option.Option<Grant>) => Effect.Effect<Grant, E>
  /** How long a stored grant stays after its last refresh. Default: 400 days. */
  readonly retentionMillis?: number
}

/**
 * The failures the manager adds to a source's own.
 *
 * @since 0.1.0
 * @category models
 */
export type ManagerError = AuthError.ConsentRequired | AuthError.StoreFailure | AuthError.Transport

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly policy?: TokenLifecycle.Policy
  /** Lease on a key while refreshing across processes. Default 30 s. */
  readonly leaseTtl?: Duration.DurationInput
  /** Poll interval while another process holds the lease. Default 50 ms. */
  readonly leasePoll?: Duration.DurationInput
  /** Identity of this process in leases. Default: a random id. */
  readonly owner?: string
  /**
   * How long closing the manager's scope waits for refresh attempts that are underway. From
   * the moment the scope starts closing no new refresh starts (a caller that would start one
   * is interrupted), and refreshes that are only waiting (for another process's lease)
   * stop at once; an attempt that may already have spent a one-time refresh token gets this
   * long to store the rotated grant before it is interrupted. Default 10 s.
   */
  readonly shutdownTimeout?: Duration.DurationInput
}

/**
 * @since 0.1.0
 * @category tags
 */
export class TokenManager extends Context.Tag("@mobilepay-auth/platform/TokenManager")<
  TokenManager,
  TokenManager.Service
>() {}

/**
 * @since 0.1.0
 */
export declare namespace TokenManager {
  /**
   * @since 0.1.0
   * @category models
   */
  export interface Service {
    /** A token that is valid now, refreshing as the policy says. */
    readonly get: <E>(source: TokenSource<E>) => Effect.Effect<Token.TokenSet, E | ManagerError>
    /** The API rejected `accessToken`: drop it (if it is still the current one) and keep the grant. */
    readonly invalidate: (key: string, accessToken: Token.AccessToken) => Effect.Effect<void>
    /** Installs a new grant (consent completed), persisting it when `persistent`. */
    readonly install: (
      key: string,
      grant: Grant,
      options: { readonly persistent: boolean; readonly retentionMillis?: number }
    ) => Effect.Effect<void, AuthError.StoreFailure>
    /** Forgets a key here and in the store. */
    readonly remove: (key: string) => Effect.Effect<void, AuthError.StoreFailure>
    /** The stored grant of a key, if any (for listings; never log it). */
    readonly stored: (key: string) => Effect.Effect<Option.Option<Grant>, AuthError.StoreFailure>
  }
}

/**
 * The store key of a grant.
 *
 * @since 0.1.0
 * @category utils
 */
export const grantKey = (key: string) => `grant:${key}`

const DEFAULT_RETENTION = 400 * 24 * 3600 * 1000

// Metrics: counters by key kind; failures also by error tag. No secret ever becomes a label.
const requests = Metric.counter("mobilepay_auth_token_requests", { description: "token endpoint calls" })
const refreshes = Metric.counter("mobilepay_auth_refreshes", { description: "refresh cycles started" })
const hits = Metric.counter("mobilepay_auth_cache_hits", { description: "tokens served from cache" })
const failures = Metric.counter("mobilepay_auth_failures", { description: "failed refresh cycles" })

/**
 * The manager's counters, tagged `kind` (and `error` for failures): export them with your
 * metrics backend. No secret is ever a tag.
 *
 * @since 0.1.0
 * @category metrics
 */
export const metrics = { tokenRequests: requests, refreshes, cacheHits: hits, failures } as const

// Tagged counters are built once per kind: the cache-hit path runs on every API call.
const byKind = <M extends Metric.Metric.Counter<number>>(metric: M) => {
  const cache = new Map<string, Metric.Metric.Counter<number>>()
  return (kind: string) => {
    let tagged = cache.get(kind)
    if (tagged === undefined) {
      tagged = Metric.tagged(metric, "kind", kind)
      cache.set(kind, tagged)
    }
    return tagged
  }
}
const requestsOf = byKind(requests)
const refreshesOf = byKind(refreshes)
const hitsOf = byKind(hits)
const failuresOf = byKind(failures)

interface Entry {
  state: TokenLifecycle.State
  attributes: Grant["attributes"]
  /** Completed by the refresh owner; shared by every caller that waits. */
  inflight: Deferred.Deferred<Token.TokenSet, unknown> | undefined
  lastError: unknown
}

const tagOf = (e: unknown): string =>
  typeof e === "object" && e !== null && "_tag" in e && typeof e._tag === "string" ? e._tag : "Unknown"

const isGrantGone = (e: unknown) => {
  const tag = tagOf(e)
  return tag === "InvalidGrant" || tag === "ConsentRequired"
}

const retryAfterOf = (e: unknown): number | undefined =>
  typeof e === "object" && e !== null && "retryAfterMillis" in e && typeof e.retryAfterMillis === "number"
    ? e.retryAfterMillis
    : undefined

/**
 * A manager; its background refreshes live in the enclosing scope. Closing the scope lets an
 * attempt that is underway store its grant first (bounded by `shutdownTimeout`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options = {}
): Effect.Effect<TokenManager.Service, never, Scope.Scope | TokenVault> =>
  Effect.gen(function* () {
    const vault = yield* TokenVault
    const policy = options.policy ?? TokenLifecycle.defaultPolicy
    const leaseTtl = Duration.toMillis(options.leaseTtl ?? "30 seconds")
    const leasePoll = Duration.decode(options.leasePoll ?? "50 millis")
    const owner = options.owner ?? `pid-${globalThis.crypto.randomUUID()}`
    const shutdownTimeout = Duration.decode(options.shutdownTimeout ?? "10 seconds")
    const fibers = yield* FiberSet.make()
    const entries = new Map<string, Entry>()

    // Interrupting a refresh between the token request and the store write would lose a rotated
    // grant for good. This finalizer is added after the FiberSet, so it runs before the set
    // interrupts its fibers: it stops new attempts, wakes the waiting ones (they stop), and gives
    // the attempts underway `shutdownTimeout` to finish.
    let closing = false
    const shutdown = yield* Deferred.make<void>()
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        closing = true
        return Deferred.succeed(shutdown, undefined)
      }).pipe(
        Effect.zipRight(
          Effect.timeoutOption(Effect.interruptible(FiberSet.awaitEmpty(fibers)), shutdownTimeout)
        )
      )
    )
    // The point of no return of an attempt: past it, the token request may be sent.
    const stopIfClosing = Effect.suspend(() => (closing ? Effect.interrupt : Effect.void))
    // A wait that costs nothing to abandon ends as soon as shutdown begins.
    const pause = (duration: Duration.DurationInput) =>
      Effect.zipRight(Effect.raceFirst(Effect.sleep(duration), Deferred.await(shutdown)), stopIfClosing)

    const entryOf = (key: string): Entry => {
      let entry = entries.get(key)
      if (entry === undefined) {
        entry = { state: TokenLifecycle.empty, attributes: {}, inflight: undefined, lastError: undefined }
        entries.set(key, entry)
      }
      return entry
    }

    const currentGrant = (entry: Entry): Option.Option<Grant> => {
      const state = entry.state
      if (state._tag === "ConsentRequired") return Option.none()
      return Option.map(state.current, (s) => ({
        tokens: { ...s.tokens, refreshToken: state.refreshToken },
        attributes: entry.attributes
      }))
    }

    // A stored grant that needs no refresh at `now`, if any.
    const usable = (grant: Grant, now: number, jitter: number) => {
      const scheduled = TokenLifecycle.schedule(policy, grant.tokens, jitter)
      return now < scheduled.refreshAt
    }

    const readStored = (key: string) => vault.get(GrantSchema, grantKey(key))

    const writeStored = (
      key: string,
      grant: Grant,
      expectedVersion: number,
      retention: number,
      now: number
    ) => vault.put(GrantSchema, grantKey(key), grant, { expectedVersion, expiresAt: now + retention })

    // One refresh through the store: lease, re-read, obtain only if still needed, write.
    const obtainPersistent = <E>(source: TokenSource<E>, entry: Entry) =>
      Effect.gen(function* () {
        const retention = source.retentionMillis ?? DEFAULT_RETENTION
        const jitter = yield* Random.next
        const before = yield* readStored(source.key)
        let now = yield* Effect.clockWith((c) => c.currentTimeMillis)
        if (Option.isSome(before) && usable(before.value.value, now, jitter)) {
          return { grant: before.value.value, fromStore: true }
        }
        // Take the lease; while another process holds it, watch for its result.
        while (!(yield* vault.store.acquireLease(grantKey(source.key), owner, leaseTtl))) {
          yield* pause(leasePoll)
          const seen = yield* readStored(source.key)
          now = yield* Effect.clockWith((c) => c.currentTimeMillis)
          if (Option.isSome(seen) && usable(seen.value.value, now, jitter)) {
            return { grant: seen.value.value, fromStore: true }
          }
        }
        return yield* Effect.gen(function* () {
          const stored = yield* readStored(source.key)
          now = yield* Effect.clockWith((c) => c.currentTimeMillis)
          if (Option.isSome(stored) && usable(stored.value.value, now, jitter)) {
            return { grant: stored.value.value, fromStore: true }
          }
          const current = Option.orElse(
            Option.map(stored, (s) => s.value),
            () => currentGrant(entry)
          )
          yield* stopIfClosing
          yield* Metric.increment(requestsOf(source.kind))
          const next = yield* source.obtain(current).pipe(
            Effect.tapError((e) =>
              // A rejected grant is deleted, unless someone else refreshed meanwhile.
              isGrantGone(e)
                ? Effect.flatMap(readStored(source.key), (latest) =>
                    Option.getOrUndefined(latest)?.version === Option.getOrUndefined(stored)?.version
                      ? Effect.asVoid(vault.store.remove(grantKey(source.key)))
                      : Effect.void
                  )
                : Effect.void
            )
          )
          const merged: Grant = {
            tokens: refreshKept(current, next.tokens),
            attributes: {
              ...Option.match(current, { onNone: () => ({}), onSome: (g) => g.attributes }),
              ...next.attributes
            }
          }
          now = yield* Effect.clockWith((c) => c.currentTimeMillis)
          // Written before anyone sees the new access token: a rotated refresh token is never lost.
          yield* writeStored(
            source.key,
            merged,
            Option.match(stored, { onNone: () => 0, onSome: (s) => s.version }),
            retention,
            now
          ).pipe(
            Effect.catchIf(
              (e) => e.reason === "conflict",
              () =>
                Effect.flatMap(readStored(source.key), (latest) =>
                  writeStored(
                    source.key,
                    merged,
                    Option.match(latest, { onNone: () => 0, onSome: (s) => s.version }),
                    retention,
                    now
                  )
                )
            )
          )
          return { grant: merged, fromStore: false }
        }).pipe(Effect.ensuring(Effect.ignore(vault.store.releaseLease(grantKey(source.key), owner))))
      })

    const obtainMemory = <E>(source: TokenSource<E>, entry: Entry) =>
      Effect.gen(function* () {
        const current = currentGrant(entry)
        yield* stopIfClosing
        yield* Metric.increment(requestsOf(source.kind))
        const next = yield* source.obtain(current)
        return {
          grant: { tokens: refreshKept(current, next.tokens), attributes: next.attributes },
          fromStore: false
        }
      })

    // The owner of a refresh cycle: one attempt (AuthHttp already retried transient failures
    // within it), then tokens, a rejected grant, or a cool-down that callers see as the error.
    const runCycle = <E>(
      source: TokenSource<E>,
      entry: Entry,
      inflight: Deferred.Deferred<Token.TokenSet, unknown>
    ) =>
      Effect.gen(function* () {
        yield* Metric.increment(refreshesOf(source.kind))
        const result = yield* Effect.either(
          source.persistent ? obtainPersistent(source, entry) : obtainMemory(source, entry)
        )
        const now = yield* Effect.clockWith((c) => c.currentTimeMillis)
        if (result._tag === "Right") {
          const jitter = yield* Random.next
          const { grant } = result.right
          entry.attributes = grant.attributes
          entry.lastError = undefined
          entry.state = TokenLifecycle.transition(policy, entry.state, {
            _tag: "RefreshSucceeded",
            at: now,
            tokens: grant.tokens,
            jitter
          })
          if (entry.inflight === inflight) entry.inflight = undefined
          yield* Deferred.succeed(inflight, grant.tokens)
          return
        }
        const error = result.left
        yield* Metric.increment(Metric.tagged(failuresOf(source.kind), "error", tagOf(error)))
        if (isGrantGone(error)) {
          // The source's own ConsentRequired (e.g. "missing") is kept; invalid_grant means revoked.
          const gone =
            error instanceof AuthError.ConsentRequired
              ? error
              : new AuthError.ConsentRequired({ merchant: source.subject ?? source.key, reason: "revoked" })
          entry.state = TokenLifecycle.transition(policy, entry.state, { _tag: "GrantRejected", at: now })
          entry.lastError = gone
          if (entry.inflight === inflight) entry.inflight = undefined
          yield* Deferred.fail(inflight, gone)
          return
        }
        const retryAfterMillis = retryAfterOf(error)
        // A failed cycle cools the key down (exponentially, honouring Retry-After) instead of
        // multiplying requests: until then callers get this error, or the token while it is fresh.
        entry.state = TokenLifecycle.transition(policy, entry.state, {
          _tag: "RefreshFailed",
          at: now,
          final: true,
          ...(retryAfterMillis === undefined ? {} : { retryAfterMillis })
        })
        entry.lastError = error
        if (entry.inflight === inflight) entry.inflight = undefined
        yield* Deferred.fail(inflight, error)
      }).pipe(
        Effect.withSpan("mobilepay_auth.refresh", { attributes: { kind: source.kind, key: source.key } }),
        // Never leave waiters hanging, whatever happens to the owner.
        Effect.onExit((exit) =>
          exit._tag === "Failure"
            ? Effect.andThen(
                Effect.clockWith((clock) =>
                  Effect.sync(() => {
                    if (entry.inflight === inflight) entry.inflight = undefined
                    if (TokenLifecycle.isRefreshing(entry.state)) {
                      entry.state = TokenLifecycle.transition(policy, entry.state, {
                        _tag: "RefreshFailed",
                        at: clock.unsafeCurrentTimeMillis(),
                        final: true
                      })
                    }
                  })
                ),
                Deferred.failCause(inflight, exit.cause)
              )
            : Effect.void
        )
      )

    const get = <E>(source: TokenSource<E>): Effect.Effect<Token.TokenSet, E | ManagerError> =>
      Effect.clockWith((clock) =>
        Effect.suspend((): Effect.Effect<Token.TokenSet, E | ManagerError> => {
          // Decide and transition in one synchronous step: no other fiber runs in between.
          const entry = entryOf(source.key)
          const now = clock.unsafeCurrentTimeMillis()
          const decision = TokenLifecycle.decide(entry.state, now)
          switch (decision._tag) {
            case "Serve":
              return Effect.as(Metric.increment(hitsOf(source.kind)), decision.tokens)
            case "ServeAndRefresh":
            case "RefreshNow": {
              // Shutting down: no new token request. A still-fresh token is served; anyone who
              // would wait for a refresh that will never run is interrupted.
              if (closing) {
                return decision._tag === "ServeAndRefresh"
                  ? Effect.succeed(decision.tokens)
                  : Effect.interrupt
              }
              entry.state = TokenLifecycle.transition(policy, entry.state, {
                _tag: "RefreshStarted",
                at: now
              })
              const inflight = Deferred.unsafeMake<Token.TokenSet, unknown>(FiberId.none)
              entry.inflight = inflight
              const start = FiberSet.run(fibers, runCycle(source, entry, inflight))
              return decision._tag === "ServeAndRefresh"
                ? Effect.as(start, decision.tokens)
                : Effect.zipRight(start, awaitInflight<E>(inflight))
            }
            case "AwaitRefresh":
              return entry.inflight === undefined
                ? Effect.fail(new AuthError.Transport({ reason: "cooling-down", endpoint: source.kind }))
                : awaitInflight<E>(entry.inflight)
            case "FailConsentRequired": {
              const gone =
                entry.lastError instanceof AuthError.ConsentRequired
                  ? entry.lastError
                  : new AuthError.ConsentRequired({
                      merchant: source.subject ?? source.key,
                      reason: "revoked"
                    })
              if (!source.persistent) return Effect.fail(gone)
              // Another process (or a consent completed elsewhere) may have stored a new grant.
              return Effect.flatMap(readStored(source.key), (stored) =>
                Option.match(stored, {
                  onNone: () => Effect.fail(gone),
                  onSome: ({ value }) =>
                    Effect.zipRight(
                      Effect.flatMap(Random.next, (jitter) =>
                        Effect.sync(() => {
                          entry.attributes = value.attributes
                          entry.lastError = undefined
                          entry.state = TokenLifecycle.transition(policy, entry.state, {
                            _tag: "GrantReceived",
                            at: clock.unsafeCurrentTimeMillis(),
                            tokens: value.tokens,
                            jitter
                          })
                        })
                      ),
                      get(source)
                    )
                })
              )
            }
            case "FailRetryAfter": {
              const error = entry.lastError
              const retryAfterMillis = Math.max(0, decision.retryAt - now)
              return error === undefined
                ? Effect.fail(
                    new AuthError.Transport({
                      reason: "cooling-down",
                      endpoint: source.kind,
                      retryAfterMillis
                    })
                  )
                : Effect.fail(error as E)
            }
          }
        })
      )

    return TokenManager.of({
      get,
      invalidate: (key, accessToken) =>
        Effect.clockWith((clock) =>
          Effect.sync(() => {
            const entry = entries.get(key)
            if (entry === undefined || entry.state._tag === "ConsentRequired") return
            const current = Option.getOrUndefined(entry.state.current)
            if (current && Redacted.value(current.tokens.accessToken) === Redacted.value(accessToken)) {
              entry.state = TokenLifecycle.transition(policy, entry.state, {
                _tag: "Invalidated",
                at: clock.unsafeCurrentTimeMillis()
              })
            }
          })
        ),
      install: (key, grant, opts) =>
        Effect.gen(function* () {
          const now = yield* Effect.clockWith((c) => c.currentTimeMillis)
          if (opts.persistent) {
            const existing = yield* readStored(key)
            const version = Option.match(existing, { onNone: () => 0, onSome: (s) => s.version })
            yield* writeStored(key, grant, version, opts.retentionMillis ?? DEFAULT_RETENTION, now)
          }
          const entry = entryOf(key)
          entry.attributes = grant.attributes
          entry.lastError = undefined
          entry.state = TokenLifecycle.transition(policy, entry.state, {
            _tag: "GrantReceived",
            at: now,
            tokens: grant.tokens,
            jitter: yield* Random.next
          })
        }),
      remove: (key) =>
        Effect.suspend(() => {
          entries.delete(key)
          return Effect.asVoid(vault.store.remove(grantKey(key)))
        }),
      stored: (key) =>
        Effect.map(
          readStored(key),
          Option.map((s) => s.value)
        )
    })
  })

// The error type of a shared refresh is the source's; the deferred is untyped so one map holds all.
const awaitInflight = <E>(inflight: Deferred.Deferred<Token.TokenSet, unknown>) =>
  Deferred.await(inflight) as Effect.Effect<Token.TokenSet, E | ManagerError>

const refreshKept = (current: Option.Option<Grant>, next: Token.TokenSet): Token.TokenSet =>
  Token.afterRefresh(
    Option.flatMap(current, (g) => g.tokens.refreshToken),
    next
  )

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<TokenManager, never, TokenVault> =>
  Layer.scoped(TokenManager, make(options))
