// The verification page's check of the permit's signed token (the link's fragment, as the QR code carries it).
//
// The token is an Ed25519 compact JWS (RFC 7515, RFC 8037). It is verified here, in the browser, against the
// published keys (GET /api/v1/permit-signing-keys), and its claims are compared with what the page shows, so a
// tampered token or a tampered page says so. The keys and the signed revocation list are kept in localStorage
// with the time they were fetched; with no network (the service worker then serves the shell page, which has
// no server data) the permit is shown from the checked token and the page says as of when it checked.
"use strict";

(() => {
  const data = JSON.parse(document.getElementById("verify-data").textContent);
  const messages = data.messages;
  const PERMIT_TYP = "permit+jwt";
  const REVOCATIONS_TYP = "permit-revocations+jwt";
  const AUDIENCE = "flexreg-permit";
  const LEEWAY_SECONDS = 30;
  const ICONS = { valid: "✓", expired: "⌛", suspended: "‖", revoked: "✕" };
  const KEYS_STORE = "flexreg.verify.keys";
  const REVOCATIONS_STORE = "flexreg.verify.revocations";
  const FETCHED_HEADER = "x-flexreg-fetched-at";

  const t = (key, values = {}) =>
    (messages[key] ?? key).replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));

  // ---- encoding -------------------------------------------------------------------------------------------
  function base64urlBytes(text) {
    if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new Error("not base64url");
    const padded = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  }

  function base64urlJson(text) {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(base64urlBytes(text)));
  }

  // ---- the city's clock -----------------------------------------------------------------------------------
  const minuteFormat = new Intl.DateTimeFormat("en-GB", {
    timeZone: data.timezone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  });

  function cityMinute(ms) {
    const parts = Object.fromEntries(minuteFormat.formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
    return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}`;
  }

  // As flexreg.console.verify.hours_lines formats them on the server.
  function hoursLines(hours) {
    const lines = [];
    const weekdays = t("weekday_names").split(",");
    for (const window of hours?.schedule ?? []) {
      const days = [...window.days].sort((a, b) => a - b);
      const named = days.length === 7 ? t("every_day") : days.map((d) => weekdays[d - 1]).join(t("list_separator"));
      lines.push(`${named} ${window.start}–${window.end}`);
    }
    for (const period of hours?.periods ?? []) {
      const start = cityMinute(Date.parse(period.start));
      const end = cityMinute(Date.parse(period.end));
      lines.push(`${start}–${start.slice(0, 10) === end.slice(0, 10) ? end.slice(11) : end}`);
    }
    return lines;
  }

  // ---- kept copies of the keys and the revocation list ----------------------------------------------------
  function load(key) {
    try {
      const saved = JSON.parse(localStorage.getItem(key) ?? "null");
      return saved && typeof saved.fetched_at === "number" ? saved : null;
    } catch {
      return null;
    }
  }

  function keep(key, value) {
    try {
      localStorage.setItem(key, JSON.stringify(value));
    } catch {
      // Private mode or a full store: this visit still checks online.
    }
  }

  // The published document, fresh when the network answers, else the copy kept here (or the worker's).
  async function published(url, storeKey) {
    try {
      const response = await fetch(url, { cache: "no-cache", credentials: "omit" });
      if (response.ok && !response.headers.has(FETCHED_HEADER)) {
        const saved = { fetched_at: Date.now(), body: await response.json() };
        keep(storeKey, saved);
        return { ...saved, online: true };
      }
      if (response.ok) {
        // The service worker's copy: the network did not answer.
        const saved = load(storeKey);
        if (saved) return { ...saved, online: false };
        const fetched = Date.parse(response.headers.get(FETCHED_HEADER));
        return { fetched_at: fetched, body: await response.json(), online: false };
      }
    } catch {
      // No network: the kept copy below.
    }
    const saved = load(storeKey);
    return saved ? { ...saved, online: false } : null;
  }

  // ---- JWS ------------------------------------------------------------------------------------------------
  class Refused extends Error {
    constructor(outcome) {
      super(outcome);
      this.outcome = outcome;
    }
  }

  async function verifyJws(token, jwks, typ) {
    const parts = token.split(".");
    if (parts.length !== 3) throw new Refused("signature_bad");
    let header;
    let claims;
    let signature;
    try {
      header = base64urlJson(parts[0]);
      claims = base64urlJson(parts[1]);
      signature = base64urlBytes(parts[2]);
    } catch {
      throw new Refused("signature_bad");
    }
    if (header.alg !== "EdDSA" || header.typ !== typ || typeof claims !== "object" || claims === null) {
      throw new Refused("signature_bad");
    }
    const jwk = (jwks?.keys ?? []).find((key) => key.kid === header.kid);
    if (!jwk) throw new Refused("signature_unknown_key");
    if (!globalThis.crypto?.subtle) throw new Refused("signature_unsupported");
    let key;
    try {
      key = await crypto.subtle.importKey("jwk", { kty: "OKP", crv: "Ed25519", x: jwk.x }, { name: "Ed25519" }, false, [
        "verify",
      ]);
    } catch (error) {
      throw new Refused(error?.name === "NotSupportedError" ? "signature_unsupported" : "signature_bad");
    }
    const signed = new TextEncoder().encode(`${parts[0]}.${parts[1]}`);
    let valid = false;
    try {
      valid = await crypto.subtle.verify({ name: "Ed25519" }, key, signature, signed);
    } catch {
      valid = false;
    }
    if (!valid) throw new Refused("signature_bad");
    return claims;
  }

  // ---- the page -------------------------------------------------------------------------------------------
  const region = document.getElementById("signature");
  const result = region.querySelector(".signature-result");
  const checked = document.getElementById("checked");
  const facts = document.getElementById("facts");

  function say(outcome, text, line = "", warn = false) {
    const kind = outcome === "signature_missing" ? "notice" : outcome === "signature_ok" && !warn ? "success" : "alert";
    region.className = `signature ${kind}`;
    region.dataset.outcome = outcome;
    result.textContent = text;
    checked.textContent = line;
  }

  function shown(field) {
    const element = facts.querySelector(`[data-field="${field}"]`);
    return element ? element.textContent.trim() : null;
  }

  // What the token states, beside what the page shows: a difference is a tampered page.
  function mismatches(claims) {
    const place = claims.place ?? {};
    const expected = {
      permit_number: [claims.sub, shown("number")],
      holder: [claims.holder, shown("holder")],
      id_last4: [claims.id_last4, shown("id_last4")],
      activity: [data.names.activities[claims.activity] ?? claims.activity, shown("activity")],
      place: [place.name, shown("place")],
      pitch: [place.pitch ?? null, shown("pitch")],
      valid_from: [claims.valid_from, shown("valid_from")],
      valid_to: [claims.valid_to, shown("valid_to")],
    };
    return Object.entries(expected)
      .filter(([, [stated, onPage]]) => stated !== onPage)
      .map(([field]) => t(field));
  }

  function showStatus(status) {
    const word = document.getElementById("status-word");
    word.className = `status status-${status}`;
    word.dataset.status = status;
    word.querySelector(".status-icon").textContent = ICONS[status] ?? "";
    word.querySelector(".status-text").textContent = t(`status_${status}`);
    word.hidden = false;
  }

  function addFact(label, lines, field) {
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    if (field) dd.dataset.field = field;
    lines.forEach((line, index) => {
      if (index) dd.append(document.createElement("br"));
      dd.append(document.createTextNode(line));
    });
    facts.append(dt, dd);
  }

  // The shell (served by the worker with no network) shows the permit from the checked token only.
  function renderFromToken(claims, status) {
    showStatus(status);
    const place = claims.place ?? {};
    const departments = (claims.departments ?? []).map((code) => data.names.departments[code] ?? code);
    addFact(t("permit_number"), [claims.sub], "number");
    addFact(t("holder"), [claims.holder], "holder");
    addFact(t("id_last4"), [claims.id_last4], "id_last4");
    addFact(t("activity"), [data.names.activities[claims.activity] ?? claims.activity], "activity");
    addFact(t("place"), place.pitch ? [place.name, `${t("pitch")} ${place.pitch}`] : [place.name], "place");
    addFact(t("hours"), hoursLines(claims.hours), "hours");
    addFact(t("valid_dates"), [`${claims.valid_from} ${t("date_to")} ${claims.valid_to}`], "valid_dates");
    addFact(t("departments"), [departments.join(t("list_separator"))], "departments");
    const note = document.getElementById("from-token");
    if (note) note.hidden = false;
  }

  function pageNumber() {
    if (data.number) return data.number;
    const tail = location.pathname.split("/").filter(Boolean).pop() ?? "";
    return decodeURIComponent(tail).trim().toUpperCase();
  }

  async function check() {
    const token = decodeURIComponent(location.hash.replace(/^#/, "")).trim();
    if (!token) {
      say("signature_missing", t("signature_missing"));
      return;
    }
    const [keys, revocations] = await Promise.all([
      published(data.keys_url, KEYS_STORE),
      published(data.revocations_url, REVOCATIONS_STORE),
    ]);
    if (!keys) {
      say("offline_no_keys", t("offline_no_keys"));
      return;
    }
    const online = keys.online;
    let claims;
    try {
      claims = await verifyJws(token, keys.body, PERMIT_TYP);
    } catch (error) {
      const outcome = error instanceof Refused ? error.outcome : "signature_bad";
      say(outcome, t(outcome));
      return;
    }
    if (claims.aud !== AUDIENCE) {
      say("signature_bad", t("signature_bad"));
      return;
    }
    const now = Date.now() / 1000;
    const number = pageNumber();
    const extra = [];
    if (typeof claims.nbf === "number" && now + LEEWAY_SECONDS < claims.nbf) {
      extra.push(t("token_not_yet_valid", { date: claims.valid_from }));
    }
    const lapsed = typeof claims.exp !== "number" || now - LEEWAY_SECONDS >= claims.exp;
    if (lapsed) extra.push(t("token_expired", { date: claims.valid_to }));

    let listed = null;
    let listFetched = null;
    if (revocations?.body?.token) {
      try {
        const list = await verifyJws(revocations.body.token, keys.body, REVOCATIONS_TYP);
        listed = (list.revoked ?? []).find((entry) => entry.number === claims.sub) ?? null;
        listFetched = revocations.fetched_at;
      } catch {
        // A list that does not verify is not used.
      }
    }

    if (data.number) {
      const differing = mismatches(claims);
      if (differing.length) {
        say("signature_mismatch", t("signature_mismatch", { fields: differing.join(t("list_separator")) }));
        return;
      }
    } else {
      if (claims.sub !== number) {
        say("signature_mismatch", t("signature_mismatch", { fields: t("permit_number") }));
        return;
      }
      renderFromToken(claims, listed ? listed.status : lapsed ? "expired" : "valid");
    }
    if (!online && listed) extra.push(t("offline_revoked", { status: t(`status_${listed.status}`) }));
    const asOf = Math.min(keys.fetched_at, listFetched ?? keys.fetched_at);
    const line = online
      ? t("checked_online", { time: cityMinute(Date.now()) })
      : t("checked_offline", { time: cityMinute(asOf) });
    const text = [t("signature_ok"), ...extra].join(data.lang === "zh" ? "" : " ");
    say("signature_ok", text, line, Boolean(listed) || lapsed);
  }

  // The language link keeps the token: a fragment is not carried by a relative link.
  for (const link of document.querySelectorAll("a.lang")) {
    link.setAttribute("href", link.getAttribute("href") + location.hash);
  }

  // The worker keeps this page's language for offline visits; the page is marked once it has (and so is ready).
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker
      .register(data.worker_url, { scope: data.scope })
      .then(() => navigator.serviceWorker.ready)
      .then(
        (registration) =>
          new Promise((resolve) => {
            const channel = new MessageChannel();
            channel.port1.onmessage = resolve;
            registration.active.postMessage({ language: data.lang }, [channel.port2]);
          }),
      )
      .then(() => {
        document.documentElement.dataset.offlineReady = "true";
      })
      .catch(() => {
        // No worker (a private window, an old browser): the page still checks online.
      });
  }

  check().catch(() => say("signature_bad", t("signature_bad")));
})();
