// The verification page's service worker (served at /verify/sw.js, scope /verify/).
//
// Online it passes every request through and keeps copies: the shell page in both languages, verify.js,
// console.css, the published keys and the signed revocation list (each copy stamped with when it was fetched).
// When a visit under /verify/ gets no answer from the network, it answers with the shell, which renders the
// permit from the token in the link's fragment alone and says as of when its keys were fetched.
"use strict";

const CACHE = "flexreg-verify-v1";
const SHELLS = { zh: "/verify/shell?lang=zh", en: "/verify/shell?lang=en" };
const ASSETS = ["/console/static/verify.js", "/console/static/console.css"];
const PUBLISHED = ["/api/v1/permit-signing-keys", "/api/v1/permit-revocations"];
const LANGUAGE = "/verify/__language";
const FETCHED_HEADER = "x-flexreg-fetched-at";

async function stamped(response) {
  const headers = new Headers(response.headers);
  headers.set(FETCHED_HEADER, new Date().toISOString());
  return new Response(await response.blob(), { status: response.status, headers });
}

async function keepPublished(cache, path) {
  const response = await fetch(path, { cache: "no-cache", credentials: "omit" });
  if (response.ok) await cache.put(path, await stamped(response));
}

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      await cache.addAll([...Object.values(SHELLS), ...ASSETS]);
      await Promise.all(PUBLISHED.map((path) => keepPublished(cache, path).catch(() => undefined)));
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name !== CACHE && name.startsWith("flexreg-verify-")) await caches.delete(name);
      }
      await self.clients.claim();
    })(),
  );
});

// A page tells the worker its language, so an offline visit gets the shell in the language last chosen.
self.addEventListener("message", (event) => {
  const language = event.data?.language;
  if (!(language in SHELLS)) return;
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      await cache.put(LANGUAGE, new Response(language));
      event.ports[0]?.postMessage("kept");
    })(),
  );
});

async function visit(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    const language = response.headers.get("content-language");
    if (language in SHELLS) await cache.put(LANGUAGE, new Response(language));
    return response;
  } catch {
    const asked = new URL(request.url).searchParams.get("lang");
    const remembered = await cache.match(LANGUAGE);
    const language = asked in SHELLS ? asked : remembered ? await remembered.text() : "zh";
    const shell = await cache.match(SHELLS[language in SHELLS ? language : "zh"]);
    return shell ?? new Response("offline", { status: 503, headers: { "content-type": "text/plain" } });
  }
}

async function refreshShells() {
  const cache = await caches.open(CACHE);
  await Promise.all(
    Object.values(SHELLS).map(async (path) => {
      try {
        const response = await fetch(path, { cache: "no-cache" });
        if (response.ok) await cache.put(path, response);
      } catch {
        // Offline: keep the copies there are.
      }
    }),
  );
}

// Network first (a new release or list wins), the kept copy when there is no network.
async function networkFirst(request, path, stamp) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (response.ok) await cache.put(path, stamp ? await stamped(response.clone()) : response.clone());
    return response;
  } catch {
    return (await cache.match(path)) ?? Response.error();
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && url.pathname.startsWith("/verify/")) {
    event.respondWith(visit(request));
    // The shells were kept at install; a release changes them (texts, names) without changing this worker, so
    // every online visit refreshes them for the next offline one.
    event.waitUntil(refreshShells());
  } else if (ASSETS.includes(url.pathname)) {
    event.respondWith(networkFirst(request, url.pathname, false));
  } else if (PUBLISHED.includes(url.pathname)) {
    event.respondWith(networkFirst(request, url.pathname, true));
  }
});
