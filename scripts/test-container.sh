#!/usr/bin/env bash
# Builds Dockerfile.scrape for real and checks the image from outside.
#
# There is no Docker engine or image registry here: buildah builds the image
# (`buildah bud --isolation chroot`) FROM base images made locally by
# deploy/container/make-base-images.sh (debootstrap + this host's Rust
# toolchain), and runs it (`buildah run --isolation chroot`, host network).
# Then, from outside the container:
#   /health answers; a loopback fake page opened by the policy is scraped over
#   MCP; a page whose text only JavaScript writes is rendered by the image's
#   own Chromium (render=browser); the server runs as a non-root user
#   (/proc/PID/status Uid); a request without the token, and one with a wrong
#   token, get 401; SIGTERM makes it exit 0 with no process of the container
#   (Chromium included) left. Prints the image size and the build time.
#
# The cargo registry, the build's target dir, buildah's layers and the base
# images are cached (under target/container-cache and buildah's store), so a
# second run recompiles only what changed. Installs buildah and debootstrap
# with apt-get when missing; when buildah cannot be installed or cannot run,
# it prints why and exits 0 (the only skip).
#
# Usage: scripts/test-container.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
IMAGE=localhost/moat-scrape:test
CACHE="$ROOT/target/container-cache"
# The image's user (Dockerfile.scrape's USER).
EXPECTED_UID=10001
# Longest wait for the server's /health after start (Chromium is not started
# until the first browser call, so this is the binary's own start-up).
HEALTH_WAIT_SECS=60

started=$SECONDS
log() { echo "test-container: $*" >&2; }
skip() {
  log "SKIPPED: $*"
  exit 0
}
fail() {
  log "FAILED: $*"
  exit 1
}

# --- buildah and debootstrap ---------------------------------------------
need=()
command -v buildah >/dev/null 2>&1 || need+=(buildah)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || skip "${need[*]} missing, and no root or sudo to install them"
    SUDO="sudo"
  fi
  log "installing: ${need[*]}"
  $SUDO apt-get update -qq >/dev/null 2>&1 || skip "apt-get update failed, cannot install ${need[*]}"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 ||
    skip "apt-get could not install ${need[*]}"
fi
[ "$(id -u)" -eq 0 ] || skip "buildah with chroot isolation and debootstrap need root here"
if ! info_error="$(buildah info 2>&1 >/dev/null)"; then
  skip "buildah cannot run here: ${info_error%%$'\n'*}"
fi

# --- base images and the build -------------------------------------------
deploy/container/make-base-images.sh

mkdir -p "$CACHE/tmp"
log "building $IMAGE from Dockerfile.scrape (log: $CACHE/build.log)"
build_started=$SECONDS
# TMPDIR places buildah's cache mounts (the cargo registry and target dir of
# the Dockerfile's RUN --mount=type=cache) under target/container-cache/tmp.
# CARGO_PROFILE=ci (the test command) builds a dev-profile binary without
# debug info; the default is the release profile a shipped image uses.
CARGO_PROFILE="${CARGO_PROFILE:-release}"
log "building with cargo profile $CARGO_PROFILE"
if ! TMPDIR="$CACHE/tmp" buildah bud --isolation chroot --network host --pull=never --layers \
  --build-arg "CARGO_PROFILE=$CARGO_PROFILE" \
  -f Dockerfile.scrape -t "$IMAGE" . >"$CACHE/build.log" 2>&1; then
  tail -30 "$CACHE/build.log" >&2
  fail "the image did not build"
fi
build_secs=$((SECONDS - build_started))
size="$(buildah images --format '{{.Size}}' "$IMAGE")"
log "built in ${build_secs} s; image size $size"

# --- a loopback fake site and a policy that opens it ----------------------
work="$(mktemp -d)"
site_pid=""
run_pid=""
ctr=""
cleanup() {
  [ -n "$run_pid" ] && kill "$run_pid" 2>/dev/null || true
  [ -n "$site_pid" ] && kill "$site_pid" 2>/dev/null || true
  [ -n "$ctr" ] && buildah rm "$ctr" >/dev/null 2>&1 || true
  [ -f "$work/server.log" ] && cp "$work/server.log" "$CACHE/server.log"
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
site_port="$(free_port)"
port="$(free_port)"
token="$(python3 -c 'import secrets; print(secrets.token_hex(24))')"

mkdir "$work/site"
cat >"$work/site/index.html" <<'EOF'
<!doctype html>
<html><head><title>Fleet check page</title></head>
<body><article><h1>Fleet check page</h1>
<p>The container scraped this loopback page: marker CONTAINER-HTTP-OK. It is a plain article
with enough prose to count as the main content of the page, so the extractor keeps it and the
renderer stays plain HTTP.</p>
<p>A second paragraph makes the article long enough that no heuristic mistakes it for a page
that needs JavaScript to show anything at all.</p>
</article></body></html>
EOF
# The marker is assembled by the script, so it is in the page only if
# Chromium ran the script.
cat >"$work/site/js.html" <<'EOF'
<!doctype html>
<html><head><title>Built by script</title></head>
<body><div id="root"></div>
<script>
  const article = document.createElement("article");
  const heading = document.createElement("h1");
  heading.textContent = "Written by JavaScript";
  article.appendChild(heading);
  for (const line of [
    "This paragraph was added by a script running in the container's own Chromium: marker "
      + ["CONTAINER", "BROWSER", "OK"].join("-") + ".",
    "Nothing of this text is in the HTML the server sent, so plain HTTP would see an empty root.",
  ]) {
    const p = document.createElement("p");
    p.textContent = line;
    article.appendChild(p);
  }
  document.getElementById("root").appendChild(article);
</script>
</body></html>
EOF
python3 -m http.server --bind 127.0.0.1 "$site_port" --directory "$work/site" \
  >"$work/site.log" 2>&1 &
site_pid=$!

cat >"$work/policy.toml" <<EOF
# The image's policy, replaced (as docs/scrape.md says to) by one that opens
# the test's loopback fake site and nothing else private.
[url]
allow_private = ["127.0.0.1:$site_port"]
EOF

# --- run the image -------------------------------------------------------
ctr="$(buildah from --pull=never --name "moat-scrape-test-$$" "$IMAGE")"
buildah config --env "MOAT_TOKENS=$token" "$ctr"
buildah inspect --type image "$IMAGE" >"$work/image.json"
mapfile -t entrypoint < <(python3 -c '
import json, sys
print("\n".join(json.load(open(sys.argv[1]))["OCIv1"]["config"]["Entrypoint"]))' "$work/image.json")
[ ${#entrypoint[@]} -gt 0 ] || fail "the image has no ENTRYPOINT"
# The image's ENTRYPOINT with its CMD's arguments, bound to loopback on a
# free port instead of 0.0.0.0:8080: the container shares the host's network
# and the checks talk only to loopback. The token still applies on loopback.
buildah run --isolation chroot --network host \
  -v "$work/policy.toml:/etc/moat/scrape.toml:ro" \
  "$ctr" -- "${entrypoint[@]}" serve --http "127.0.0.1:$port" >"$work/server.log" 2>&1 &
run_pid=$!
url="http://127.0.0.1:$port"

# Every process below PID, depth first.
descendants() {
  local child
  for child in $(ps -o pid= --ppid "$1"); do
    echo "$child"
    descendants "$child"
  done
}

deadline=$((SECONDS + HEALTH_WAIT_SECS))
until health="$(curl -fsS "$url/health" 2>/dev/null)"; do
  if ! kill -0 "$run_pid" 2>/dev/null; then
    cat "$work/server.log" >&2
    fail "the container exited before answering /health"
  fi
  [ $SECONDS -lt $deadline ] || fail "no /health answer within ${HEALTH_WAIT_SECS} s"
  sleep 0.5
done
log "/health: $health"
[[ "$health" == *'"status":"ok"'* ]] || fail "/health did not say ok"

server_pid=""
for pid in $(descendants "$run_pid"); do
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = moat-scrape ] && server_pid=$pid
done
[ -n "$server_pid" ] || fail "no moat-scrape process under buildah run ($run_pid)"
# An init reaps the orphans of a crashed Chromium (see Dockerfile.scrape).
parent_pid="$(ps -o ppid= -p "$server_pid" | tr -d ' ')"
[ "$(cat "/proc/$parent_pid/comm" 2>/dev/null)" = tini ] ||
  fail "moat-scrape's parent is not tini: $(cat "/proc/$parent_pid/cmdline" 2>/dev/null | tr '\0' ' ')"
# The container's root as the kernel sees it, to find any process of the
# container still running at the end.
rootfs="$(readlink "/proc/$server_pid/root")"
[ "$rootfs" != / ] || fail "the server runs in the host's root, not the image's"

mcp() {
  MOAT_TOKEN="$token" python3 deploy/container/mcp_call.py "$url/mcp" "$@"
}
# field JSON PATH: one value of the tool result, for the checks below.
field() {
  python3 -c '
import json, sys
value = json.loads(sys.argv[1])
for key in sys.argv[2].split("."):
    value = value[int(key)] if isinstance(value, list) else value[key]
print(value)' "$1" "$2"
}

result="$(mcp scrape "{\"url\":\"http://127.0.0.1:$site_port/\",\"render\":\"http\"}")" ||
  fail "scrape of the loopback page: $result"
text="$(field "$result" content.0.text)"
[[ "$text" == *CONTAINER-HTTP-OK* ]] || fail "the scraped page lacks its marker: ${text:0:300}"
log "scrape (render=http): $(head -2 <<<"$text" | tr '\n' ' ')"

result="$(mcp scrape "{\"url\":\"http://127.0.0.1:$site_port/js.html\",\"render\":\"browser\"}")" ||
  fail "browser scrape of the JavaScript page: $result"
text="$(field "$result" content.0.text)"
[[ "$text" == *CONTAINER-BROWSER-OK* ]] || fail "the script's text is not in the rendered page: ${text:0:300}"
log "scrape (render=browser): $(head -2 <<<"$text" | tr '\n' ' ')"

# Memory under load, for the Kubernetes resource figures: four browser
# renders at once (the policy's default browser_concurrency) and four plain
# scrapes, while the proportional set size (Pss: shared pages split between
# the processes sharing them) of moat-scrape and every process under it is
# sampled; its peak is what the pod's memory cgroup would have seen.
touch "$work/sampling"
python3 - "$server_pid" "$work/sampling" >"$work/memory" <<'EOF' &
import os, sys, time
root, flag = sys.argv[1], sys.argv[2]
def tree(pid):
    # A thread's children file lists only what that thread forked.
    children = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            children += open(f"/proc/{pid}/task/{task}/children").read().split()
    except OSError:
        pass
    return [pid] + [p for child in children for p in tree(child)]
def pss_kib(pid):
    try:
        return sum(int(line.split()[1]) for line in open(f"/proc/{pid}/smaps_rollup") if line.startswith("Pss:"))
    except OSError:
        return 0
peak = (0, 0)
while os.path.exists(flag):
    pids = tree(root)
    peak = max(peak, (sum(pss_kib(pid) for pid in pids), len(pids)))
    time.sleep(0.2)
print(f"{peak[0] // 1024} MiB in {peak[1]} processes")
EOF
sampler=$!
load=()
for round in 1 2 3 4; do
  mcp scrape "{\"url\":\"http://127.0.0.1:$site_port/js.html?$round\",\"render\":\"browser\"}" >/dev/null &
  load+=($!)
  mcp scrape "{\"url\":\"http://127.0.0.1:$site_port/?$round\",\"render\":\"http\"}" >/dev/null &
  load+=($!)
done
# A measurement, not a check: on a starved machine a render may miss its
# deadline (moat then says so to the caller and relaunches Chromium).
failed_under_load=0
for pid in "${load[@]}"; do wait "$pid" || failed_under_load=$((failed_under_load + 1)); done
[ $failed_under_load -eq 0 ] || log "$failed_under_load of ${#load[@]} scrapes under load failed (see $CACHE/server.log)"
rm "$work/sampling"
wait "$sampler"
log "peak memory (Pss) of the container under 4 browser + 4 plain scrapes: $(cat "$work/memory")"

chromium_pids=()
for pid in $(descendants "$server_pid"); do
  case "$(cat "/proc/$pid/comm" 2>/dev/null)" in chromium* | chrome*) chromium_pids+=("$pid") ;; esac
done
[ ${#chromium_pids[@]} -gt 0 ] || fail "no Chromium process under the server after a browser render"
log "Chromium processes under the server: ${#chromium_pids[@]}"

uid_line="$(grep '^Uid:' "/proc/$server_pid/status")"
log "server process $server_pid: $uid_line"
read -r _ real effective saved fs <<<"$uid_line"
for id in "$real" "$effective" "$saved" "$fs"; do
  [ "$id" = "$EXPECTED_UID" ] || fail "the server runs as uid $id, not $EXPECTED_UID"
done

status="$(python3 deploy/container/mcp_call.py "$url/mcp" --status)"
log "initialize without a token: HTTP $status"
[ "$status" = 401 ] || fail "a request without the token got $status, not 401"
status="$(MOAT_TOKEN="wrong-${token}" python3 deploy/container/mcp_call.py "$url/mcp" --status)"
log "initialize with a wrong token: HTTP $status"
[ "$status" = 401 ] || fail "a request with a wrong token got $status, not 401"

log "SIGTERM to $server_pid"
kill -TERM "$server_pid"
rc=0
wait "$run_pid" || rc=$?
run_pid=""
log "exit status: $rc"
[ "$rc" -eq 0 ] || {
  tail -20 "$work/server.log" >&2
  fail "the server exited $rc after SIGTERM"
}
# A process still running: it exists and is not a zombie. (Chromium's
# renderers, orphaned when Chromium exits, are reparented to tini, the
# subreaper, which reaps them; a zombie is dead, only waiting for that.)
running() {
  local state
  state="$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null)"
  [ -n "$state" ] && [ "$state" != Z ]
}
left=()
for pid in "${chromium_pids[@]}"; do
  running "$pid" && left+=("$pid")
done
# Anything still running inside the container's root file system.
for proc in /proc/[0-9]*; do
  [ "$(readlink "$proc/root" 2>/dev/null)" = "$rootfs" ] && running "${proc#/proc/}" && left+=("${proc#/proc/}")
done
[ ${#left[@]} -eq 0 ] || {
  ps -o pid,ppid,stat,args -p "$(IFS=,; echo "${left[*]}")" >&2 || true
  fail "processes left running after exit: ${left[*]}"
}
log "no Chromium (no process of the container) left running"

log "PASSED: image $IMAGE, size $size, build ${build_secs} s, peak memory $(cat "$work/memory"), whole run $((SECONDS - started)) s"
