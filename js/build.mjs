// Bundle every js/src/*_widget.js adapter into failwidgets/static/<name>.js (ESM, for anywidget).
import { build, context } from "esbuild";
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const src = path.join(here, "src");
const entryPoints = Object.fromEntries(
  readdirSync(src)
    .filter((f) => f.endsWith("_widget.js"))
    .map((f) => [f.replace(/_widget\.js$/, ""), path.join(src, f)]),
);
const options = {
  entryPoints,
  bundle: true,
  format: "esm",
  target: "es2020",
  minify: true,
  sourcemap: false,
  outdir: path.join(here, "..", "failwidgets", "static"),
  logLevel: "warning",
};
if (process.argv.includes("--watch")) {
  const ctx = await context(options);
  await ctx.watch();
} else {
  await build(options);
}
