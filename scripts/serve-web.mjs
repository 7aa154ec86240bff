// `npm run web`: serves dist/web/ (built by `npm run build`) on 127.0.0.1
// and prints the URL. Any static host serves the same files; the page also
// works opened as a file (file://…/dist/web/index.html).
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import { extname, join, normalize } from "node:path";

const root = "dist/web";
if (!existsSync(`${root}/index.html`)) {
  console.error("kimage: dist/web/ is missing: run npm run build first");
  process.exit(1);
}
const TYPES = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".png": "image/png", ".svg": "image/svg+xml" };
// PORT=0 picks a free port (the tests use it); the URL printed is the one listened on.
const port = Number(process.env.PORT ?? 8080);
const server = createServer((req, res) => {
  const path = normalize(decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname)).replace(/^(\.\.[/\\])+/, "");
  const file = join(root, path.endsWith("/") ? `${path}index.html` : path);
  if (!file.startsWith(root) || !existsSync(file)) {
    res.writeHead(404).end("not found");
    return;
  }
  res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream", "cache-control": "no-store" }).end(readFileSync(file));
});
server.listen(port, "127.0.0.1", () => console.log(`kimage web: http://127.0.0.1:${server.address().port}/`));
