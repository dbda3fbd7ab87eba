// Bundle the contributor app into dist/: hashed ES modules and CSS (cacheable for long, split so
// that the first view loads only what it needs), an index.html naming them, the service worker
// (listing every file to precache) and the manifest at stable names, and a brotli and a gzip
// copy of each text file. Everything the page needs is in dist/: no CDN, no network at run time.
import { build } from "esbuild";
import { copyFileSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { basename } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import { createHash } from "node:crypto";

const outdir = "dist";
rmSync(outdir, { recursive: true, force: true });

const result = await build({
  entryPoints: ["src/app.js", "src/app.css"],
  bundle: true,
  format: "esm",
  splitting: true,
  minify: true,
  sourcemap: true,
  target: ["es2022"],
  outdir,
  entryNames: "[name]-[hash]",
  chunkNames: "[name]-[hash]",
  assetNames: "[name]-[hash]",
  loader: { ".png": "file", ".svg": "file" },
  metafile: true,
  logLevel: "warning",
});

const outputs = Object.entries(result.metafile.outputs);
const named = (entry) =>
  basename(outputs.find(([, meta]) => meta.entryPoint === entry)[0]);
const page = readFileSync("src/index.html", "utf8")
  .replace("{{app.js}}", named("src/app.js"))
  .replace("{{app.css}}", named("src/app.css"));
writeFileSync(`${outdir}/index.html`, page);
for (const icon of readdirSync("src/icons")) copyFileSync(`src/icons/${icon}`, `${outdir}/${icon}`);
copyFileSync("src/manifest.webmanifest", `${outdir}/manifest.webmanifest`);

// The service worker precaches the shell: the page and every bundled file except source maps.
const shell = readdirSync(outdir)
  .filter((name) => !name.endsWith(".map") && !["index.html", "manifest.webmanifest"].includes(name))
  .map((name) => `/map/${name}`);
const version = createHash("sha256").update(page).update(shell.join()).digest("hex").slice(0, 12);
await build({
  entryPoints: ["src/sw.js"],
  bundle: true,
  format: "iife",
  minify: true,
  target: ["es2022"],
  outfile: `${outdir}/sw.js`,
  define: { SHELL_FILES: JSON.stringify(["/", "/manifest.webmanifest", ...shell]), SHELL_VERSION: JSON.stringify(version) },
  logLevel: "warning",
});

for (const name of readdirSync(outdir)) {
  if (!/\.(js|css|webmanifest)$/.test(name)) continue;
  const data = readFileSync(`${outdir}/${name}`);
  writeFileSync(`${outdir}/${name}.br`, brotliCompressSync(data, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }));
  writeFileSync(`${outdir}/${name}.gz`, gzipSync(data, { level: 9 }));
}
console.log(`web app built into web/${outdir}/`);
