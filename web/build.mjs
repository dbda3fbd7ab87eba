// Bundle the web map into dist/: hashed JS and CSS (cacheable for long) and an index.html
// naming them. Everything the page needs is in dist/: no CDN, no network at run time.
import { build } from "esbuild";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename } from "node:path";

const outdir = "dist";
rmSync(outdir, { recursive: true, force: true });

const result = await build({
  entryPoints: ["src/map.js", "src/map.css"],
  bundle: true,
  minify: true,
  sourcemap: true,
  target: ["es2020"],
  outdir,
  entryNames: "[name]-[hash]",
  assetNames: "[name]-[hash]",
  loader: { ".png": "file", ".svg": "file" },
  metafile: true,
  logLevel: "warning",
});

const outputs = Object.entries(result.metafile.outputs);
const named = (entry) =>
  basename(outputs.find(([, meta]) => meta.entryPoint === entry)[0]);
const page = readFileSync("src/index.html", "utf8")
  .replace("{{map.js}}", named("src/map.js"))
  .replace("{{map.css}}", named("src/map.css"));
writeFileSync(`${outdir}/index.html`, page);
console.log(`web map built into web/${outdir}/`);
