#!/usr/bin/env python3
"""Check deploy/registry/server.json (MCP Registry metadata) before a release.

The checks are the rules of the registry's server.schema.json (2025-09-29) that
this file exercises: name pattern and length, description length, a specific
version, each package's required fields, no unknown package fields, the SHA-256
pattern, stdio transport. With --write OUT --sha256 HEX --version V it also
writes the release copy with the bundle's real SHA-256 and version.
Exit 1 with one line per problem.
"""
import argparse
import json
import re
import sys

PACKAGE_FIELDS = {
    "registryType", "registryBaseUrl", "identifier", "version", "fileSha256",
    "runtimeHint", "transport", "runtimeArguments", "packageArguments",
    "environmentVariables",
}


def problems(server):
    found = []
    name = server.get("name", "")
    if not re.fullmatch(r"[a-zA-Z0-9.-]+/[a-zA-Z0-9._-]+", name) or not 3 <= len(name) <= 200:
        found.append(f"name {name!r}: must be reverse-DNS namespace/name, 3-200 characters")
    description = server.get("description", "")
    if not 1 <= len(description) <= 100:
        found.append(f"description: {len(description)} characters, must be 1-100")
    version = server.get("version", "")
    if not version or re.search(r"[\^~><*x]|^latest$", version):
        found.append(f"version {version!r}: must be one specific version")
    repository = server.get("repository")
    if repository is not None and not {"url", "source"} <= repository.keys():
        found.append("repository: needs url and source")
    for index, package in enumerate(server.get("packages", [])):
        where = f"packages[{index}]"
        for field in ("registryType", "identifier", "version", "transport"):
            if field not in package:
                found.append(f"{where}: missing {field}")
        for field in package.keys() - PACKAGE_FIELDS:
            found.append(f"{where}: unknown field {field}")
        if package.get("version") in ("latest", ""):
            found.append(f"{where}: version must be specific")
        sha = package.get("fileSha256")
        if sha is not None and not re.fullmatch(r"[a-f0-9]{64}", sha):
            found.append(f"{where}: fileSha256 must be 64 lower-case hex digits")
        if package.get("registryType") == "mcpb" and sha is None:
            found.append(f"{where}: an mcpb package needs fileSha256")
        if package.get("transport", {}).get("type") not in ("stdio", "streamable-http", "sse"):
            found.append(f"{where}: transport.type must be stdio, streamable-http or sse")
        for argument in package.get("packageArguments", []):
            if argument.get("type") == "named" and "name" not in argument:
                found.append(f"{where}: a named argument needs a name")
            if argument.get("type") == "positional" and not ({"valueHint", "value"} & argument.keys()):
                found.append(f"{where}: a positional argument needs valueHint or value")
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("file")
    parser.add_argument("--version", help="the release version every version field must carry")
    parser.add_argument("--sha256", help="the bundle's SHA-256, written into the mcpb package")
    parser.add_argument("--write", help="write the release copy here")
    args = parser.parse_args()
    server = json.load(open(args.file, encoding="utf-8"))
    if args.sha256 or args.version:
        for package in server.get("packages", []):
            if args.version:
                package["version"] = args.version
                if package.get("registryType") == "mcpb":
                    package["identifier"] = re.sub(r"/v[^/]+/", f"/v{args.version}/", package["identifier"])
            if args.sha256 and package.get("registryType") == "mcpb":
                package["fileSha256"] = args.sha256
        if args.version:
            server["version"] = args.version
    found = problems(server)
    for problem in found:
        print(f"{args.file}: {problem}", file=sys.stderr)
    if found:
        return 1
    if args.write:
        with open(args.write, "w", encoding="utf-8") as out:
            json.dump(server, out, indent=2)
            out.write("\n")
    print(f"{args.file}: valid ({len(server.get('packages', []))} packages)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
