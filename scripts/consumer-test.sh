#!/usr/bin/env bash
# The test that counts: a new project outside the workspace installs the packed tarballs with
# plain npm (not pnpm, not the workspace links) and uses them as an application would.
#   1. a plain Node ESM script uses createMobilePayAuth against the sandbox (tarball too);
#   2. an Effect program composes MobilePay.layerConfig() with the SQLite store from
#      environment variables and gets a merchant token (compiled by tsc, run by node);
#   3. tsc --noEmit passes on it under module nodenext and under moduleResolution bundler;
#   4. npm ls shows exactly one copy of effect;
#   5. npx mobilepay-auth --help and npx mobilepay-auth demo work from the installed tarball.
# Run from the repository root after `pnpm build`; needs the npm registry for the peers.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"

echo "== packing"
node_modules/.bin/tsx scripts/pack.ts
mapfile -t tarballs < <(ls "$root"/.packs/*.tgz)

app="$(mktemp -d /tmp/mobilepay-consumer.XXXXXX)"
trap 'rm -rf "$app"' EXIT
cp scripts/consumer/app.mjs scripts/consumer/effect-app.ts scripts/consumer/tsconfig.*.json "$app"/
cd "$app"
# pnpm's own npm_config_* settings mean nothing to npm (it warns about each): a clean npm.
while read -r name; do unset "$name"; done < <(env | grep -o '^npm_config_[^=]*' || true)
cat >package.json <<'JSON'
{ "name": "mobilepay-consumer", "version": "1.0.0", "private": true, "type": "module" }
JSON

echo "== npm install (tarballs; peers from the registry; better-sqlite3 compiles)"
started=$(date +%s)
npm install --no-audit --no-fund --loglevel=error "${tarballs[@]}" typescript@5.9.3 @types/node@20.19.43 >npm-install.log 2>&1 || {
  tail -50 npm-install.log
  exit 1
}
echo "   installed in $(($(date +%s) - started)) s"

echo "== 4. one copy of effect"
npm ls effect --all
copies=$(npm ls effect --all --parseable | sort -u | grep -c "node_modules/effect$" || true)
if [ "$copies" != "1" ]; then
  echo "expected exactly one copy of effect, found $copies"
  exit 1
fi
echo "   exactly one copy of effect"
for peer in @effect/platform @effect/sql; do
  n=$(npm ls "$peer" --all --parseable | sort -u | grep -c "node_modules/${peer}$" || true)
  [ "$n" = "1" ] || { echo "expected one copy of $peer, found $n"; exit 1; }
done

echo "== 1. plain Node ESM with the Promise API"
node app.mjs

echo "== 3. tsc under module nodenext and moduleResolution bundler"
npx --no-install tsc -p tsconfig.bundler.json
npx --no-install tsc -p tsconfig.nodenext.json
echo "   both type-check"

echo "== 2. the Effect program, compiled, on the SQLite store"
CONSUMER_DATA_DIR="$app/.data" node build/effect-app.js
test -f "$app/.data/tokens.db"

echo "== 5. the mobilepay-auth command"
npx --no-install mobilepay-auth --help >help.txt
head -5 help.txt
grep -q "demo" help.txt
(cd "$app" && npx --no-install mobilepay-auth demo)

echo "== consumer test: ok"
