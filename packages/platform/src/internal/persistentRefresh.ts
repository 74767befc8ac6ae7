/**
 * One refresh of a grant kept in a shared store, across processes: take the key's lease (and
 * renew it while the attempt runs), re-read (another instance may have refreshed already),
 * request only if still needed, and write the rotated grant with compare-and-set on the version
 * read under the lease, so a holder that lost its lease never writes over a newer record. A
 * grant with a refresh token that is absent from the store has ended (`remove` elsewhere, or an
 * `invalid_grant` seen by another instance): it is never refreshed from memory or written back.
 *
 * @internal
 */
import { AuthError, type TokenLifecycle } from "@mobilepay-auth/domain"
import { TokenLifecycle as Lifecycle, Token } from "@mobilepay-auth/domain"
import { type Duration, Effect, Either, Option, Random, Redacted } from "effect"
import { type Grant, GrantSchema } from "../Grant.js"
import type { TokenVault, Versioned } from "../TokenVault.js"
import * as GrantWrite from "./grantWrite.js"
import * as Lease from "./lease.js"

/** @internal What the manager lends to every persistent refresh. */
export interface Context {
  readonly vault: TokenVault.Service
  readonly policy: TokenLifecycle.Policy
  readonly owner: string
  readonly leaseTtlMillis: number
  readonly leasePoll: Duration.Duration
  /** Sleeps, or interrupts once shutdown begins: a wait costs nothing to abandon. */
  readonly pause: (duration: Duration.Duration) => Effect.Effect<void>
  /** Interrupts once shutdown began: the point of no return before a token request. */
  readonly stopIfClosing: Effect.Effect<void>
}

/** @internal One refresh. */
export interface Request<E> {
  /** The record key (`grant:...`). */
  readonly storeKey: string
  readonly kind: string
  /** Whom errors name. */
  readonly subject: string
  readonly retentionMillis: number
  readonly obtain: (current: Option.Option<Grant>) => Effect.Effect<Grant, E>
  /** Counts the token request, just before it is sent. */
  readonly sending: Effect.Effect<void>
  /** The grant this process holds, if any. */
  readonly memory: Option.Option<Grant>
  /** Another process holds the lease: what is still valid may be served meanwhile. */
  readonly onWaiting: Effect.Effect<void>
  /** The store refused the write: the grant goes to callers now, the write goes on. */
  readonly onUnsaved: (grant: Grant, error: AuthError.StoreFailure) => Effect.Effect<void>
}

/** @internal */
export type Outcome =
  /** This process refreshed: the grant is stored (or, for a grant without a refresh token, served unsaved). */
  | { readonly _tag: "Refreshed"; readonly grant: Grant }
  /** The store holds a newer grant (another instance refreshed, or a consent completed). */
  | { readonly _tag: "FromStore"; readonly grant: Grant }

const refreshTokenOf = (grant: Option.Option<Grant>): string | undefined =>
  Option.getOrUndefined(
    Option.map(
      Option.flatMap(grant, (g) => g.tokens.refreshToken),
      Redacted.value
    )
  )

const isGrantGone = (e: unknown) =>
  typeof e === "object" &&
  e !== null &&
  "_tag" in e &&
  (e._tag === "InvalidGrant" || e._tag === "ConsentRequired")

/** @internal */
export const refresh = <E>(
  ctx: Context,
  req: Request<E>
): Effect.Effect<Outcome, E | AuthError.StoreFailure | AuthError.ConsentRequired> =>
  Effect.gen(function* () {
    const store = ctx.vault.store
    const read = ctx.vault.get(GrantSchema, req.storeKey)
    const jitter = yield* Random.next
    const ended = new AuthError.ConsentRequired({ merchant: req.subject, reason: "revoked" })
    // "Absent from the store means ended" holds for grants with a refresh token: only a consent
    // creates one, so a missing record was removed, and writing it back would resurrect it.
    const holdsConsent = refreshTokenOf(req.memory) !== undefined

    // A usable stored grant ends the refresh; an absent one ends a consent grant.
    const settle = (seen: Option.Option<Versioned<Grant>>) =>
      Effect.flatMap(
        Effect.clockWith((c) => c.currentTimeMillis),
        (now) => {
          if (Option.isNone(seen)) return holdsConsent ? Effect.fail(ended) : Effect.succeedNone
          const scheduled = Lifecycle.schedule(ctx.policy, seen.value.value.tokens, jitter)
          return now < scheduled.refreshAt
            ? Effect.succeedSome<Outcome>({ _tag: "FromStore", grant: seen.value.value })
            : Effect.succeedNone
        }
      )

    // After a compare-and-set conflict: a newer record wins; an absent one ended the grant.
    const superseded = (grant: Grant) =>
      Effect.flatMap(read, (latest): Effect.Effect<Outcome, AuthError.ConsentRequired> => {
        if (Option.isSome(latest)) return Effect.succeed({ _tag: "FromStore", grant: latest.value.value })
        return refreshTokenOf(Option.some(grant)) === undefined
          ? Effect.succeed({ _tag: "Refreshed", grant })
          : Effect.fail(ended)
      })

    // The provider rejected the grant we sent. Only if it is still the stored one is it deleted;
    // if the store holds another, ours was spent by another instance's rotation: adopt theirs.
    const rejected = (error: E, sent: Option.Option<Grant>) =>
      Effect.flatMap(read, (latest): Effect.Effect<Outcome, E | AuthError.StoreFailure> => {
        if (Option.isNone(latest)) return Effect.fail(error)
        if (refreshTokenOf(Option.some(latest.value.value)) !== refreshTokenOf(sent)) {
          return Effect.succeed({ _tag: "FromStore", grant: latest.value.value })
        }
        return Effect.zipRight(store.remove(req.storeKey), Effect.fail(error))
      })

    const underLease = Effect.gen(function* () {
      let waiting = false
      while (!(yield* store.acquireLease(req.storeKey, ctx.owner, ctx.leaseTtlMillis))) {
        if (!waiting) {
          waiting = true
          yield* req.onWaiting
        }
        yield* ctx.pause(ctx.leasePoll)
        const seen = yield* settle(yield* read)
        if (Option.isSome(seen)) return seen.value
      }
      const held = yield* Lease.hold(store, req.storeKey, ctx.owner, ctx.leaseTtlMillis)
      const stored = yield* read
      const early = yield* settle(stored)
      if (Option.isSome(early)) return early.value
      const current = Option.orElse(
        Option.map(stored, (s) => s.value),
        () => req.memory
      )
      const expectedVersion = Option.match(stored, { onNone: () => 0, onSome: (s) => s.version })
      yield* ctx.stopIfClosing
      // Lost before the request: another process may be refreshing; start over rather than send.
      if (yield* held.lost) return undefined
      yield* req.sending
      const answer = yield* Effect.either(req.obtain(current))
      if (Either.isLeft(answer)) {
        return yield* isGrantGone(answer.left) ? rejected(answer.left, current) : Effect.fail(answer.left)
      }
      // From here to the write: nothing but merging, encoding and sealing.
      const grant: Grant = {
        tokens: Token.afterRefresh(
          Option.flatMap(current, (g) => g.tokens.refreshToken),
          answer.right.tokens
        ),
        attributes: {
          ...Option.match(current, { onNone: () => ({}), onSome: (g) => g.attributes }),
          ...answer.right.attributes
        }
      }
      const now = yield* Effect.clockWith((c) => c.currentTimeMillis)
      const write = ctx.vault.put(GrantSchema, req.storeKey, grant, {
        expectedVersion,
        expiresAt: now + req.retentionMillis
      })
      const first = yield* Effect.either(write)
      if (Either.isRight(first)) return { _tag: "Refreshed", grant } satisfies Outcome
      if (first.left.reason === "conflict") return yield* superseded(grant)
      // Refused: serve the grant now, keep the lease (no other instance may present the spent
      // refresh token meanwhile), and retry until the store takes it.
      yield* GrantWrite.report(req.kind, req.storeKey, first.left, 1)
      yield* req.onUnsaved(grant, first.left)
      const written = yield* GrantWrite.retryUntilStored(write, (error, attempt) =>
        GrantWrite.report(req.kind, req.storeKey, error, attempt)
      ).pipe(
        Effect.onInterrupt(() =>
          Effect.logError(
            "mobilepay_auth: shut down before a refreshed grant could be stored; the merchant may have to consent again"
          ).pipe(Effect.annotateLogs({ key: req.storeKey, kind: req.kind }))
        )
      )
      if (written._tag === "Conflict") return yield* superseded(grant)
      yield* Effect.logInfo("mobilepay_auth: a refreshed grant is stored after the store refused it").pipe(
        Effect.annotateLogs({ key: req.storeKey, kind: req.kind })
      )
      return { _tag: "Refreshed", grant } satisfies Outcome
    }).pipe(Effect.scoped)

    const early = yield* settle(yield* read)
    if (Option.isSome(early)) return early.value
    for (;;) {
      const outcome = yield* underLease
      if (outcome !== undefined) return outcome
    }
  })
