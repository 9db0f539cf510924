#!/usr/bin/env python3
"""Validate deploy/registry/server.json (MCP Registry metadata).

It is checked against the registry's published schema, vendored as
deploy/registry/server.schema.json (its source and date in
deploy/registry/SCHEMA_SOURCE.md), with Python `jsonschema` (draft 7), plus
the rules the schema states only in prose: an mcpb package needs fileSha256,
and no version may be a range. The repository URL must be the one
Cargo.toml gives (and README.md quotes), and the bundle's download URL must
lie under it, so the three never disagree. With --version V --sha256 HEX --write OUT it
writes the release copy with this version and the bundle's real SHA-256.
Exit 1 with one line per problem. Needs `jsonschema` (scripts/release.sh
runs it from the venv under target/platforms).
"""
import argparse
import json
import pathlib
import re
import sys
import tomllib

import jsonschema

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "deploy/registry/server.schema.json"
# Version ranges the schema's prose rejects ('^1.2.3', '~1.2.3', '>=1.2.3', '1.x', '1.*').
RANGE = re.compile(r"[\^~<>*]|(^|\.)x($|\.)|^latest$")
PLACEHOLDER_HOST = "example.invalid"


def problems(server, schema):
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    found = []
    for error in sorted(validator.iter_errors(server), key=lambda error: list(error.path)):
        where = "/".join(str(part) for part in error.path) or "(top level)"
        found.append(f"{where}: {error.message}")
    versions = [("version", server.get("version", ""))]
    for index, package in enumerate(server.get("packages", [])):
        versions.append((f"packages/{index}/version", package.get("version", "")))
        if package.get("registryType") == "mcpb" and "fileSha256" not in package:
            found.append(f"packages/{index}: an mcpb package needs fileSha256")
    for where, version in versions:
        if RANGE.search(version):
            found.append(f"{where}: {version!r} is a range; give one specific version")
    return found


def disagreements(server):
    """Where server.json's URLs differ from Cargo.toml's, or README.md does not quote them."""
    package = tomllib.loads((ROOT / "Cargo.toml").read_text(encoding="utf-8"))["workspace"]["package"]
    repository, homepage = package["repository"], package["homepage"]
    found = []
    if server.get("repository", {}).get("url") != repository:
        found.append(f"repository/url: {server.get('repository', {}).get('url')!r}, Cargo.toml says {repository!r}")
    if server.get("websiteUrl") != homepage:
        found.append(f"websiteUrl: {server.get('websiteUrl')!r}, Cargo.toml's homepage is {homepage!r}")
    for index, package in enumerate(server.get("packages", [])):
        if package.get("registryType") == "mcpb" and not package["identifier"].startswith(
            f"{repository}/releases/download/"
        ):
            found.append(f"packages/{index}/identifier: {package['identifier']!r} is not under {repository}/releases/download/")
    if repository not in (ROOT / "README.md").read_text(encoding="utf-8"):
        found.append(f"README.md does not quote the repository URL {repository!r}")
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("file")
    parser.add_argument("--version", help="the release version every version field must carry")
    parser.add_argument("--sha256", help="the bundle's SHA-256, written into the mcpb package")
    parser.add_argument("--write", help="write the release copy here")
    args = parser.parse_args()
    server = json.loads(pathlib.Path(args.file).read_text(encoding="utf-8"))
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    if server.get("$schema") != schema["$id"]:
        print(f"{args.file}: $schema is {server.get('$schema')!r}, the vendored schema is {schema['$id']}",
              file=sys.stderr)
        return 1
    if args.version:
        server["version"] = args.version
    for package in server.get("packages", []):
        if args.version:
            package["version"] = args.version
            if package.get("registryType") == "mcpb":
                package["identifier"] = re.sub(r"/v[^/]+/", f"/v{args.version}/", package["identifier"])
        if args.sha256 and package.get("registryType") == "mcpb":
            package["fileSha256"] = args.sha256
    found = problems(server, schema) + disagreements(server)
    for problem in found:
        print(f"{args.file}: {problem}", file=sys.stderr)
    if found:
        return 1
    if PLACEHOLDER_HOST in json.dumps(server):
        print(f"{args.file}: note: the repository and download URLs are placeholders ({PLACEHOLDER_HOST});"
              " set them before publishing", file=sys.stderr)
    if args.write:
        with open(args.write, "w", encoding="utf-8") as out:
            json.dump(server, out, indent=2)
            out.write("\n")
    print(f"{args.file}: valid against {schema['$id']} ({len(server.get('packages', []))} packages)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
