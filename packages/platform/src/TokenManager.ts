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
  Exit,
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
import * as GrantWrite from "./internal/grantWrite.js"
import * as PersistentRefresh from "./internal/persistentRefresh.js"
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
 * The failures the manager adds to a source's own: `RateLimited` with reason `cooling-down`
 * while a key pauses after a failed refresh.
 *
 * @since 0.1.0
 * @category models
 */
export type ManagerError = AuthError.ConsentRequired | AuthError.StoreFailure | AuthError.RateLimited

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly policy?: TokenLifecycle.Policy
  /**
   * Lease on a key while refreshing across processes. The holder renews it every third of this
   * while its attempt runs, so it bounds only how long a crashed holder stalls the others (who
   * meanwhile serve a token that has not expired). Default 10 s.
   */
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
    /**
     * The attributes of a key's grant (nothing secret): from memory when this process holds the
     * grant, else read from the store. No decryption on the hot path.
     */
    readonly attributes: (
      key: string
    ) => Effect.Effect<Option.Option<Grant["attributes"]>, AuthError.StoreFailure>
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
export const metrics = {
  tokenRequests: requests,
  refreshes,
  cacheHits: hits,
  failures,
  /** Refused writes of a refreshed grant, tagged `kind` and `reason` (it is served from memory meanwhile). */
  storeWriteFailures: GrantWrite.storeWriteFailures
} as const

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
// The increment itself, built once per kind: an Effect is a description, reusable on every hit.
const hitOf = (() => {
  const cache = new Map<string, Effect.Effect<void>>()
  return (kind: string) => {
    let hit = cache.get(kind)
    if (hit === undefined) {
      hit = Metric.increment(hitsOf(kind))
      cache.set(kind, hit)
    }
    return hit
  }
})()
const failuresOf = byKind(failures)

interface Entry {
  state: TokenLifecycle.State
  attributes: Grant["attributes"]
  /** The refresh in flight, if any: completed by its owner, shared by every caller that waits. */
  cycle: Cycle | undefined
  /** Set while a refreshed grant is served but not yet stored: no new refresh starts meanwhile. */
  unsaved: AuthError.StoreFailure | undefined
  lastError: unknown
}

/**
 * One refresh in flight. Callers wait on `answer`. While another process holds the lease, the
 * waiters so far are answered with this process's token if it has not expired (it still works
 * at the API), and later callers get it directly (`interim`) or wait on a new `answer`.
 */
interface Cycle {
  answer: Deferred.Deferred<Token.TokenSet, unknown>
  interim: Token.TokenSet | undefined
  /** Every answer handed out; the owner's result completes those still open. */
  readonly answers: Array<Deferred.Deferred<Token.TokenSet, unknown>>
}

const newCycle = (): Cycle => {
  const answer = Deferred.unsafeMake<Token.TokenSet, unknown>(FiberId.none)
  return { answer, interim: undefined, answers: [answer] }
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
    const leaseTtl = Duration.toMillis(options.leaseTtl ?? "10 seconds")
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
        entry = {
          state: TokenLifecycle.empty,
          attributes: {},
          cycle: undefined,
          unsaved: undefined,
          lastError: undefined
        }
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

    const readStored = (key: string) => vault.get(GrantSchema, grantKey(key))

    const writeStored = (
      key: string,
      grant: Grant,
      expectedVersion: number,
      retention: number,
      now: number
    ) => vault.put(GrantSchema, grantKey(key), grant, { expectedVersion, expiresAt: now + retention })

    const persistence: PersistentRefresh.Context = {
      vault,
      policy,
      owner,
      leaseTtlMillis: leaseTtl,
      leasePoll,
      pause,
      stopIfClosing
    }

    const obtainPersistent = <E>(
      source: TokenSource<E>,
      entry: Entry,
      deliver: (grant: Grant) => Effect.Effect<void>
    ) =>
      PersistentRefresh.refresh(persistence, {
        storeKey: grantKey(source.key),
        kind: source.kind,
        subject: source.subject ?? source.key,
        retentionMillis: source.retentionMillis ?? DEFAULT_RETENTION,
        obtain: source.obtain,
        sending: Metric.increment(requestsOf(source.kind)),
        memory: currentGrant(entry),
        onWaiting: Effect.clockWith((clock) =>
          Effect.suspend(() => {
            // A token that has not expired still works at the API: waiters need not wait for it.
            const current = entry.state._tag === "ConsentRequired" ? Option.none() : entry.state.current
            const cycle = entry.cycle
            if (cycle === undefined || Option.isNone(current)) return Effect.void
            if (clock.unsafeCurrentTimeMillis() >= current.value.tokens.expiresAt) return Effect.void
            const answered = cycle.answer
            cycle.interim = current.value.tokens
            cycle.answer = Deferred.unsafeMake<Token.TokenSet, unknown>(FiberId.none)
            cycle.answers.push(cycle.answer)
            return Deferred.succeed(answered, current.value.tokens)
          })
        ),
        onUnsaved: (grant, error) =>
          Effect.suspend(() => {
            entry.unsaved = error
            return deliver(grant)
          })
      })

    const obtainMemory = <E>(source: TokenSource<E>, entry: Entry) =>
      Effect.gen(function* () {
        const current = currentGrant(entry)
        yield* stopIfClosing
        yield* Metric.increment(requestsOf(source.kind))
        const next = yield* source.obtain(current)
        return {
          _tag: "Refreshed",
          grant: { tokens: refreshKept(current, next.tokens), attributes: next.attributes }
        } satisfies PersistentRefresh.Outcome
      })

    const consentGone = (source: TokenSource<unknown>, error: unknown) =>
      error instanceof AuthError.ConsentRequired
        ? error
        : new AuthError.ConsentRequired({ merchant: source.subject ?? source.key, reason: "revoked" })

    // The owner of a refresh cycle: one attempt (AuthHttp already retried transient failures
    // within it), then tokens, a rejected grant, or a cool-down that callers see as the error.
    // A grant the store refused is delivered before the cycle ends (the write goes on).
    const runCycle = <E>(source: TokenSource<E>, entry: Entry, cycle: Cycle) =>
      Effect.gen(function* () {
        yield* Metric.increment(refreshesOf(source.kind))
        let delivered = false
        // Detaches the cycle from its key and completes every answer still open.
        const settle = (exit: Exit.Exit<Token.TokenSet, unknown>) => {
          if (entry.cycle === cycle) entry.cycle = undefined
          return Effect.forEach(cycle.answers, (answer) => Deferred.done(answer, exit), { discard: true })
        }
        const deliver = (grant: Grant) =>
          Effect.flatMap(Random.next, (jitter) =>
            Effect.clockWith((clock) =>
              Effect.suspend(() => {
                delivered = true
                entry.attributes = grant.attributes
                entry.lastError = undefined
                entry.state = TokenLifecycle.transition(policy, entry.state, {
                  _tag: "RefreshSucceeded",
                  at: clock.unsafeCurrentTimeMillis(),
                  tokens: grant.tokens,
                  jitter
                })
                return settle(Exit.succeed(grant.tokens))
              })
            )
          )
        const result = yield* Effect.either(
          source.persistent ? obtainPersistent(source, entry, deliver) : obtainMemory(source, entry)
        )
        entry.unsaved = undefined
        const now = yield* Effect.clockWith((c) => c.currentTimeMillis)
        if (delivered) {
          // Served before it was stored; now the write has settled: stored (nothing to do), a
          // newer record won (adopt it), or the grant was removed meanwhile (it stays removed).
          if (result._tag === "Right" && result.right._tag === "FromStore") {
            entry.attributes = result.right.grant.attributes
            entry.state = TokenLifecycle.transition(policy, entry.state, {
              _tag: "GrantReceived",
              at: now,
              tokens: result.right.grant.tokens,
              jitter: yield* Random.next
            })
          } else if (result._tag === "Left") {
            entry.state = TokenLifecycle.transition(policy, entry.state, { _tag: "GrantRejected", at: now })
            entry.lastError = consentGone(source, result.left)
          }
          return
        }
        if (result._tag === "Right") return yield* deliver(result.right.grant)
        const error = result.left
        yield* Metric.increment(Metric.tagged(failuresOf(source.kind), "error", tagOf(error)))
        if (isGrantGone(error)) {
          // The source's own ConsentRequired (e.g. "missing") is kept; invalid_grant means revoked.
          const gone = consentGone(source, error)
          entry.state = TokenLifecycle.transition(policy, entry.state, { _tag: "GrantRejected", at: now })
          entry.lastError = gone
          yield* settle(Exit.fail(gone))
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
        yield* settle(Exit.fail(error))
      }).pipe(
        Effect.withSpan("mobilepay_auth.refresh", { attributes: { kind: source.kind, key: source.key } }),
        // Never leave waiters hanging, whatever happens to the owner.
        Effect.onExit((exit) =>
          exit._tag === "Failure"
            ? Effect.andThen(
                Effect.clockWith((clock) =>
                  Effect.sync(() => {
                    entry.unsaved = undefined
                    if (entry.cycle === cycle) entry.cycle = undefined
                    if (TokenLifecycle.isRefreshing(entry.state)) {
                      entry.state = TokenLifecycle.transition(policy, entry.state, {
                        _tag: "RefreshFailed",
                        at: clock.unsafeCurrentTimeMillis(),
                        final: true
                      })
                    }
                  })
                ),
                Effect.forEach(cycle.answers, (answer) => Deferred.failCause(answer, exit.cause), {
                  discard: true
                })
              )
            : Effect.void
        )
      )

    // A persistent key that cannot refresh here (cooling down) may find that another instance
    // stored a fresh grant meanwhile: adopt it instead of failing.
    const adoptStored = <E>(
      source: TokenSource<E>,
      entry: Entry,
      orElse: Effect.Effect<Token.TokenSet, E | ManagerError>
    ): Effect.Effect<Token.TokenSet, E | ManagerError> =>
      !source.persistent
        ? orElse
        : // A store that cannot be read now changes nothing: the caller gets the original error.
          Effect.flatMap(Effect.orElseSucceed(readStored(source.key), Option.none), (stored) =>
            Effect.flatMap(Random.next, (jitter) =>
              Effect.clockWith((clock) =>
                Effect.suspend(() => {
                  const now = clock.unsafeCurrentTimeMillis()
                  if (Option.isNone(stored) || TokenLifecycle.isRefreshing(entry.state)) return orElse
                  const scheduled = TokenLifecycle.schedule(policy, stored.value.value.tokens, jitter)
                  if (now >= scheduled.staleAt) return orElse
                  entry.attributes = stored.value.value.attributes
                  entry.lastError = undefined
                  entry.state = TokenLifecycle.transition(policy, entry.state, {
                    _tag: "GrantReceived",
                    at: now,
                    tokens: stored.value.value.tokens,
                    jitter
                  })
                  return Effect.as(Metric.increment(hitsOf(source.kind)), stored.value.value.tokens)
                })
              )
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
              return Effect.as(hitOf(source.kind), decision.tokens)
            case "ServeAndRefresh":
            case "RefreshNow": {
              // Shutting down: no new token request. A still-fresh token is served; anyone who
              // would wait for a refresh that will never run is interrupted.
              if (closing) {
                return decision._tag === "ServeAndRefresh"
                  ? Effect.succeed(decision.tokens)
                  : Effect.interrupt
              }
              // The last refresh is not stored yet: never rotate an unsaved grant again (a crash
              // would lose both); serve it while it is fresh, then report the store's refusal.
              if (entry.unsaved !== undefined) {
                return decision._tag === "ServeAndRefresh"
                  ? Effect.succeed(decision.tokens)
                  : Effect.fail(entry.unsaved)
              }
              entry.state = TokenLifecycle.transition(policy, entry.state, {
                _tag: "RefreshStarted",
                at: now
              })
              const cycle = newCycle()
              entry.cycle = cycle
              const start = FiberSet.run(fibers, runCycle(source, entry, cycle))
              return decision._tag === "ServeAndRefresh"
                ? Effect.as(start, decision.tokens)
                : Effect.zipRight(start, awaitAnswer<E>(cycle.answer))
            }
            case "AwaitRefresh": {
              const cycle = entry.cycle
              if (cycle?.interim !== undefined && now < cycle.interim.expiresAt) {
                return Effect.as(Metric.increment(hitsOf(source.kind)), cycle.interim)
              }
              return cycle === undefined
                ? adoptStored(
                    source,
                    entry,
                    Effect.fail(new AuthError.RateLimited({ reason: "cooling-down" }))
                  )
                : awaitAnswer<E>(cycle.answer)
            }
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
              return adoptStored(
                source,
                entry,
                // A transient failure is not replayed (its Retry-After is old news): the pause is
                // reported with the time left from now. A lasting one (bad credentials) is the cause.
                error === undefined || AuthError.isTransient(error)
                  ? Effect.fail(new AuthError.RateLimited({ reason: "cooling-down", retryAfterMillis }))
                  : Effect.fail(error as E)
              )
            }
          }
        })
      )

    const attributes = (key: string) =>
      Effect.suspend(() => {
        const entry = entries.get(key)
        const state = entry?.state
        if (
          entry !== undefined &&
          state !== undefined &&
          state._tag !== "ConsentRequired" &&
          (Option.isSome(state.current) || Option.isSome(state.refreshToken))
        ) {
          return Effect.succeed(Option.some(entry.attributes))
        }
        return Effect.map(
          readStored(key),
          Option.map((stored) => stored.value.attributes)
        )
      })

    return TokenManager.of({
      get,
      attributes,
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
const awaitAnswer = <E>(answer: Deferred.Deferred<Token.TokenSet, unknown>) =>
  Deferred.await(answer) as Effect.Effect<Token.TokenSet, E | ManagerError>

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
