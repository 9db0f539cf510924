#!/usr/bin/env bash
# Regenerates servers/fs/link/hot-symbols.txt: the functions a moat-fs
# session runs (start-up, initialize, tools/list and every tool on a small
# data set), which servers/fs/build.rs places together in a `.text.hot`
# section before .text (a linker script generated from the list) so the
# code a session touches sits on a few pages instead of ~135 scattered
# 64 KiB windows (docs/fs.md, "Memory and start-up").
#
# The names are v0-mangled (.cargo/config.toml) and stored normalised, so a
# list written on one machine still orders a build of the same source on
# another: the crate disambiguators (`Cs<base62>_`, hashes of each crate's
# `-C metadata`, which differ between checkouts) and the back-references
# (`B<base62>_`, byte offsets that shift when a disambiguator's length
# does) become `*`, and ThinLTO's `.llvm.<hash>` suffixes are dropped;
# build.rs's script matches them back. What still makes the list stale is
# a change to the code: a renamed, moved or newly hot function (names the
# script does not match are skipped: a stale list only loses the gain).
# `--check` normalises the built binary's names the same way, says how many
# of the list's names it defines and fails below MIN_FOUND_PERCENT;
# scripts/bench-compare.sh runs it and regenerates a stale list before
# measuring. Needs valgrind (apt: valgrind).
# Usage: scripts/hot-symbols.sh [--check]
set -euo pipefail
cd "$(dirname "$0")/.."
out=servers/fs/link/hot-symbols.txt
say() { echo "hot-symbols: $*" >&2; }
# Below this share of the list's names found in the binary, the list is
# stale: a fresh one finds them all. Measured: one small change to
# moat-shared's handler and JSON escaper left 78 of 1,761 names unfound
# (95.6%), and RSS at initialize went from 5.2-5.5 to 6.4-7.9 MiB, each
# function left out of place faulting in a 64 KiB window of its own.
MIN_FOUND_PERCENT=99

# A name as the list stores it (one per line on stdin): see the top.
normalise() {
  sed -E 's/Cs[0-9A-Za-z]+_/Cs*_/g; s/B[0-9A-Za-z]*_/B*_/g; s/\.llvm\.[0-9]+$//'
}

if [ "${1:-}" = "--check" ]; then
  binary=target/release/moat-fs
  found=$(nm "$binary" | awk '{print $NF}' | normalise | sort -u | comm -12 - <(sort -u "$out") | wc -l)
  listed=$(sort -u "$out" | wc -l)
  say "$found of $listed names found in $binary"
  hot=$(size -A "$binary" | awk '$1 == ".text.hot" {print $2}')
  say "hot section: ${hot:-no} bytes (none: not linked with the script, see servers/fs/build.rs)"
  [ $((found * 100)) -ge $((listed * MIN_FOUND_PERCENT)) ]
  exit
fi

say "building moat-fs (release, without the hot-text script)"
# valgrind names only the functions in .text: profiled with the script, the
# listed functions (in .text.hot) would run unnamed and drop out of the list.
MOAT_HOT_TEXT=off cargo build --release -q -p moat-fs --bin moat-fs
binary=$PWD/target/release/moat-fs
work=$(mktemp -d "${TMPDIR:-/tmp}/moat-hot-symbols.XXXXXX")
trap 'rm -rf "$work"' EXIT

say "session under callgrind"
python3 - "$work" > "$work/session.jsonl" <<'PY'
import json, os, sys
root = sys.argv[1] + "/root"
os.makedirs(root + "/flat")
os.makedirs(root + "/tree/a/b")
with open(root + "/file4k.txt", "w") as f: f.write(("x" * 15 + "\n") * 256)
with open(root + "/lines16.txt", "w") as f: f.write(("y" * 15 + "\n") * 65536)
with open(root + "/prose.txt", "w") as f: f.write(("z" * 51 + "\n") * 20164)
with open(root + "/utf8.txt", "w") as f: f.write(("é" * 25 + "\n") * 20164)
for i in range(1000):
    open(f"{root}/flat/f{i:04}.txt", "w").close()
for i in range(200):
    with open(f"{root}/tree/a/b/m{i}.rs", "w") as f: f.write(f"fn f{i}() {{}} // needle_{i}\n")
def path(p): return f"{root}/{p}"
calls = [
    ("read_text_file", {"path": path("file4k.txt")}),
    ("read_text_file", {"path": path("lines16.txt")}),
    ("read_text_file", {"path": path("prose.txt")}),
    ("read_text_file", {"path": path("utf8.txt")}),
    ("read_text_file", {"path": path("prose.txt"), "head": 5}),
    ("read_file", {"path": path("file4k.txt"), "tail": 5}),
    ("read_multiple_files", {"paths": [path("file4k.txt"), path("utf8.txt")]}),
    ("read_media_file", {"path": path("file4k.txt")}),
    ("list_directory", {"path": path("flat")}),
    ("list_directory_with_sizes", {"path": path("flat")}),
    ("directory_tree", {"path": path("tree")}),
    ("directory_tree", {"path": path("tree"), "maxDepth": 2}),
    ("search_files", {"path": path("tree"), "pattern": "**/*.rs"}),
    ("search_file_contents", {"path": path("tree"), "query": "needle_"}),
    ("get_file_info", {"path": path("file4k.txt")}),
    ("list_allowed_directories", {}),
    ("create_directory", {"path": path("new")}),
    ("write_file", {"path": path("new/w.txt"), "content": "one\ntwo\n"}),
    ("edit_file", {"path": path("new/w.txt"), "edits": [{"oldText": "two", "newText": "three"}]}),
    ("copy_file", {"source": path("new/w.txt"), "destination": path("new/c.txt")}),
    ("move_file", {"source": path("new/c.txt"), "destination": path("new/m.txt")}),
]
def send(message): print(json.dumps(message))
send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-11-25", "capabilities": {},
    "clientInfo": {"name": "hot-symbols", "version": "1"}}})
send({"jsonrpc": "2.0", "method": "notifications/initialized"})
send({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
for number, (tool, arguments) in enumerate(calls, start=10):
    send({"jsonrpc": "2.0", "id": number, "method": "tools/call",
          "params": {"name": tool, "arguments": arguments}})
PY
valgrind --tool=callgrind --demangle=no --callgrind-out-file="$work/callgrind.out" \
  "$binary" --max-result-bytes 2097152 "$work/root" < "$work/session.jsonl" > /dev/null 2> "$work/valgrind.log" \
  || { cat "$work/valgrind.log" >&2; exit 1; }

say "writing $out"
nm "$binary" > "$work/nm.txt"
python3 - "$work/callgrind.out" "$binary" "$work/nm.txt" "$out" <<'PY'
import os, re, sys
profile, binary, nm, out = sys.argv[1:]
binary = os.path.realpath(binary)
# callgrind names each object and function once ("ob=(3) /path",
# "fn=(12) name") and by number after that; a cost line under an
# fn= means that function ran.
objects, functions, ran = {}, {}, set()
current_object = current_function = None
for line in open(profile):
    line = line.rstrip("\n")
    match = re.match(r"(c?)(ob|fn)=\((\d+)\)(?: (.*))?$", line)
    if match:
        called, kind, number, name = match.groups()
        table = objects if kind == "ob" else functions
        if name:
            table[number] = name
        if not called:
            if kind == "ob":
                current_object = table.get(number)
            else:
                current_function = table.get(number)
        continue
    if line[:1] in "0123456789+-*" and current_object and os.path.realpath(current_object) == binary and current_function:
        ran.add(current_function)
address = {fields[2]: fields[0] for fields in (line.split() for line in open(nm))
           if len(fields) == 3 and fields[1] in "tTwW"}
# LLVM merges functions with identical code (two instances of a generic
# over types of one layout): the second name becomes an alias inside the
# first one's section, and the script places sections by the name they
# were compiled under. So every name sharing a hot function's address is
# listed too (35 of 1,636 hot functions were such aliases).
hot_addresses = {address[name] for name in ran if name in address}
hot = sorted(name for name, at in address.items() if at in hot_addresses)
with open(out, "w") as f:
    f.write("\n".join(hot) + "\n")
print(f"hot-symbols: {len(hot)} functions", file=sys.stderr)
PY
normalise < "$out" | sort -u > "$work/normalised.txt"
mv "$work/normalised.txt" "$out"
say "$(wc -l < "$out") names after normalising"
say "relinking moat-fs with the new list"
cargo build --release -q -p moat-fs --bin moat-fs
