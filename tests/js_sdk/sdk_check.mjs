// Drives a Webflow Data API v2 server (our emulator) with Webflow's official JS SDK, unchanged.
//
// Why: the emulator is only worth something if clients we did not write work against it. This
// script uses nothing but the SDK's public surface and its `baseUrl` option.
//
// Env: WEBFLOW_BASE_URL (http://127.0.0.1:PORT/v2), WEBFLOW_TOKEN, WEBFLOW_SITE_ID,
//      WEBFLOW_COLLECTION_ID; optional WEBFLOW_UPLOAD_FILE (file to upload; default: generated
//      bytes) and WEBFLOW_PAGE_LIMIT (default 100).
// Output: one JSON summary on stdout. Exit status 1 on any error (details on stderr).
//
// Run by hand: see webflow_emulator/CONFORMANCE.md.

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename } from "node:path";
import { WebflowClient } from "webflow-api";

const sdkVersion = createRequire(import.meta.url)("webflow-api/package.json").version;

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is required`);
  return value;
}

function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
}

// Every page of `list`, by offset/limit, the way a migration reads a collection.
async function listAll(list, limit) {
  const items = [];
  const pages = [];
  let offset = 0;
  let total = null;
  do {
    const page = await list({ offset, limit });
    check(Array.isArray(page.items), `page at offset ${offset} has an items array`);
    check(page.pagination, `page at offset ${offset} has pagination`);
    total = page.pagination.total;
    pages.push({ offset, count: page.items.length, total });
    items.push(...page.items);
    if (page.items.length === 0) break;
    offset += page.items.length;
  } while (offset < total);
  const ids = new Set(items.map((item) => item.id));
  check(ids.size === items.length, `no item listed twice (${items.length} listed, ${ids.size} ids)`);
  check(items.length === total, `listed ${items.length} items, pagination.total says ${total}`);
  return { items, pages, total };
}

function uploadBytes() {
  const path = process.env.WEBFLOW_UPLOAD_FILE;
  if (path) return { bytes: readFileSync(path), fileName: basename(path) };
  // A small deterministic "document": the content does not matter, its MD5 does.
  const bytes = Buffer.from(
    Array.from({ length: 4096 }, (_, i) => (i * 7 + 3) % 256),
  );
  return { bytes, fileName: "sdk-check.txt" };
}

async function main() {
  const started = performance.now();
  const baseUrl = env("WEBFLOW_BASE_URL");
  const siteId = env("WEBFLOW_SITE_ID");
  const collectionId = env("WEBFLOW_COLLECTION_ID");
  const limit = Number(process.env.WEBFLOW_PAGE_LIMIT || 100);
  const wf = new WebflowClient({ accessToken: env("WEBFLOW_TOKEN"), baseUrl });
  const items = wf.collections.items;

  // 1. Collections of the site.
  const collections = await wf.collections.list(siteId);
  check(Array.isArray(collections.collections), "list-collections answers {collections: [...]}");
  check(
    collections.collections.some((c) => c.id === collectionId),
    `collection ${collectionId} is listed`,
  );

  // 2. Every item, several pages.
  const before = await listAll((page) => items.listItems(collectionId, page), limit);

  // 3. Creates: one item; several through {items: [...]}; several through /items/bulk.
  const stamp = Date.now().toString(36);
  // The SDK's wrapper takes the body's fields flat (the generated client wants `{body}`).
  const single = await items.createItem(collectionId, {
    isArchived: false,
    isDraft: false,
    fieldData: { name: `SDK single ${stamp}`, slug: `sdk-single-${stamp}` },
  });
  check(typeof single.id === "string", "create-item answers the created item with an id");

  const multi = await items.createItem(collectionId, {
    items: [1, 2, 3].map((n) => ({
      isArchived: false,
      isDraft: true,
      fieldData: { name: `SDK multi ${n} ${stamp}`, slug: `sdk-multi-${n}-${stamp}` },
    })),
  });
  check(Array.isArray(multi.items), "create-item with {items} answers {items: [...]}");
  const multiIds = multi.items.map((item) => item.id);
  check(multiIds.length === 3, `create-item with 3 items created ${multiIds.length}`);

  const bulk = await items.createItems(collectionId, {
    isArchived: false,
    isDraft: false,
    fieldData: [1, 2].map((n) => ({ name: `SDK bulk ${n} ${stamp}`, slug: `sdk-bulk-${n}-${stamp}` })),
  });
  check(Array.isArray(bulk.items), "create-items (bulk) answers {items: [...]}");
  const bulkIds = [...new Set(bulk.items.map((item) => item.id))];
  check(bulkIds.length === 2, `create-items with 2 items created ${bulkIds.length}`);

  // 4. Everything again: the new items are there, exactly once.
  const after = await listAll((page) => items.listItems(collectionId, page), limit);
  const createdIds = [single.id, ...multiIds, ...bulkIds];
  const afterIds = new Set(after.items.map((item) => item.id));
  for (const id of createdIds) check(afterIds.has(id), `created item ${id} is listed`);
  check(
    after.total === before.total + createdIds.length,
    `total went from ${before.total} to ${after.total} after ${createdIds.length} creates`,
  );

  // 5. An asset: create-asset, then the S3-style multipart upload to the returned uploadUrl.
  const { bytes, fileName } = uploadBytes();
  const arrayBuffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const asset = await wf.assets.utilities.createAndUpload(siteId, { file: arrayBuffer, fileName });
  check(typeof asset.id === "string", "create-asset answers an id");
  check(typeof asset.hostedUrl === "string", "create-asset answers a hostedUrl");

  const summary = {
    sdk: { name: "webflow-api", version: sdkVersion },
    baseUrl,
    collections: collections.collections.length,
    before: { items: before.items.length, total: before.total, pages: before.pages },
    created: { single: single.id, multi: multiIds, bulk: bulkIds, count: createdIds.length },
    after: { items: after.items.length, total: after.total, pages: after.pages },
    listRequests: before.pages.length + after.pages.length,
    asset: {
      id: asset.id,
      hostedUrl: asset.hostedUrl,
      fileName,
      size: bytes.length,
      md5: createHash("md5").update(bytes).digest("hex"),
    },
    elapsedMs: Math.round(performance.now() - started),
  };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

main().catch((error) => {
  const detail = {
    message: error?.message ?? String(error),
    statusCode: error?.statusCode,
    body: error?.body,
  };
  process.stderr.write(`sdk_check failed: ${JSON.stringify(detail)}\n`);
  if (error?.stack) process.stderr.write(`${error.stack}\n`);
  process.exit(1);
});
