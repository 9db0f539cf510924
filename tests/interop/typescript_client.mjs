// The official MCP TypeScript SDK (@modelcontextprotocol/sdk) as a client of
// a moat server over Streamable HTTP.
//
// usage: node typescript_client.mjs URL TOOL ARGUMENTS_JSON
//
// Initialises, lists tools, calls TOOL with ARGUMENTS_JSON, and prints one
// JSON line with what it saw. Exits non-zero on any failure. The SDK is
// loaded from $MOAT_NODE_MODULES (scripts/conformance.sh installs it into
// target/conformance); the script talks to URL only.
import { createRequire } from "node:module";
import { join } from "node:path";

const modules = process.env.MOAT_NODE_MODULES;
if (!modules) {
  throw new Error("MOAT_NODE_MODULES is not set");
}
const require = createRequire(join(modules, "package.json"));
const { Client } = require("@modelcontextprotocol/sdk/client/index.js");
const { StreamableHTTPClientTransport } = require("@modelcontextprotocol/sdk/client/streamableHttp.js");

const [url, tool, argumentsJson] = process.argv.slice(2);
const client = new Client({ name: "moat-interop-typescript", version: "1.0.0" });
const transport = new StreamableHTTPClientTransport(new URL(url));
await client.connect(transport);
const server = client.getServerVersion();
const tools = await client.listTools();
const result = await client.callTool({ name: tool, arguments: JSON.parse(argumentsJson) });
const text = (result.content ?? [])
  .filter((block) => block.type === "text")
  .map((block) => block.text)
  .join("\n");
const report = {
  server: server?.name,
  protocol: transport.protocolVersion,
  session: transport.sessionId !== undefined,
  tools: tools.tools.map((entry) => entry.name).sort(),
  is_error: result.isError === true,
  text,
};
await transport.terminateSession().catch(() => {});
await client.close();
console.log(JSON.stringify(report));
