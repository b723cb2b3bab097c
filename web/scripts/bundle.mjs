// Bundle the browser code with esbuild: dist-browser/dashboard.js (+ .css) for the supervisor's
// page, dist-browser/client.js (the runtime and transports, for size and for front-ends).
// Deterministic for a given lock file; no network.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const out = join(root, "dist-browser");
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const common = { bundle: true, format: "esm", platform: "browser", target: "es2022", minify: true, legalComments: "none", logLevel: "warning" };
await build({ ...common, entryPoints: [join(root, "src/dashboard/page.ts")], outfile: join(out, "dashboard.js") });
await build({ ...common, entryPoints: [join(root, "src/client/index.ts")], outfile: join(out, "client.js") });
copyFileSync(join(root, "src/dashboard/dashboard.css"), join(out, "dashboard.css"));

// `--example`: web/examples/dist/ (daily.html, daily.js with daily-js bundled, dashboard.css)
if (process.argv.includes("--example")) {
  const dist = join(root, "examples", "dist");
  rmSync(dist, { recursive: true, force: true });
  mkdirSync(dist, { recursive: true });
  await build({ ...common, entryPoints: [join(root, "examples/daily.ts")], outfile: join(dist, "daily.js") });
  copyFileSync(join(root, "examples/daily.html"), join(dist, "daily.html"));
  copyFileSync(join(root, "src/dashboard/dashboard.css"), join(dist, "dashboard.css"));
}
