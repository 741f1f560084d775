// Allocation rounds: open one (POST /api/v1/allocation-rounds), watch its count, draw it (POST …/draw) and check
// the revealed seed against its commitment in this browser. Every unsafe call carries the session's CSRF token.
"use strict";
(function () {
  const messages = JSON.parse(document.getElementById("messages").textContent);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const API = "/api/v1/allocation-rounds";

  function say(key, values) {
    let text = messages[key] || key;
    for (const [name, value] of Object.entries(values || {})) text = text.replace(`{${name}}`, value);
    return text;
  }

  async function send(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body),
    });
  }

  function problemText(problem, status) {
    const fields = (problem.errors || []).map((error) => `${error.field}: ${error.message}`).join("; ");
    return fields || problem.detail || String(status);
  }

  // --- the list page: open a round ------------------------------------------------------------------------------
  const form = document.getElementById("open-round-form");
  if (form) {
    const offset = form.dataset.offset;
    const formError = document.getElementById("form-error");
    const opened = document.getElementById("opened");
    const custom = document.getElementById("custom-tiers");
    const beaconFields = document.getElementById("beacon-fields");
    const useBeacon = document.getElementById("use-beacon");

    form.querySelectorAll('input[name="tiers"]').forEach((radio) =>
      radio.addEventListener("change", () => { custom.hidden = form.elements.namedItem("tiers").value !== "custom"; }));
    useBeacon.addEventListener("change", () => { beaconFields.hidden = !useBeacon.checked; });

    // datetime-local has no zone: the value is the city's wall time, with the city's offset.
    const instant = (value) => (value ? `${value.length === 16 ? value + ":00" : value}${offset}` : null);

    function tiers() {
      const choice = form.elements.namedItem("tiers").value;
      if (choice === "default") return undefined;
      if (choice === "none") return [];
      const byTier = new Map();
      custom.querySelectorAll("select[data-group]").forEach((select) => {
        if (!select.value) return;
        const n = Number(select.value);
        if (!byTier.has(n)) byTier.set(n, []);
        byTier.get(n).push(select.dataset.group);
      });
      return [...byTier.keys()].sort((a, b) => a - b).map((n) => byTier.get(n));
    }

    function clearErrors() {
      formError.textContent = "";
      formError.className = "";
      form.querySelectorAll(".field-error").forEach((element) => { element.textContent = ""; });
      form.querySelectorAll("[aria-invalid]").forEach((element) => element.removeAttribute("aria-invalid"));
    }

    function fieldError(field, message) {
      // "pitch_ids[2]" and "priority_tiers[0]" belong to their list's field; "$" or "body" to the form.
      const base = field.replace(/\[.*$/, "");
      const slot = form.querySelector(`.field-error[data-field="${CSS.escape(base)}"]`);
      if (!slot) return false;
      slot.textContent = slot.textContent ? `${slot.textContent} ${message}` : message;
      const input = form.querySelector(`[aria-describedby~="${CSS.escape(slot.id)}"]`);
      if (input) input.setAttribute("aria-invalid", "true");
      return true;
    }

    function formAlert(text) {
      formError.className = "alert";
      formError.textContent = text;
    }

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors();
      opened.textContent = "";
      opened.className = "";
      const pitchIds = [...form.querySelectorAll('input[name="pitch_ids"]:checked')].map((box) => box.value);
      const body = {
        name: form.elements.namedItem("name").value.trim(),
        pitch_ids: pitchIds,
        term_start: form.elements.namedItem("term_start").value || null,
        term_end: form.elements.namedItem("term_end").value || null,
        applications_close_at: instant(form.elements.namedItem("applications_close_at").value),
      };
      const chosenTiers = tiers();
      if (chosenTiers !== undefined) body.priority_tiers = chosenTiers;
      if (useBeacon.checked) {
        body.beacon = {
          description: document.getElementById("beacon-description").value,
          available_after: instant(document.getElementById("beacon-after").value),
        };
      }
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        const response = await send(API, body);
        const answer = await response.json().catch(() => ({}));
        if (response.status === 201) {
          form.reset();
          custom.hidden = true;
          beaconFields.hidden = true;
          showOpened(answer);
          return;
        }
        if (response.status === 401) {
          formAlert(messages.rounds_signed_out);
        } else if (response.status === 400 || response.status === 422) {
          const placed = (answer.errors || []).map((error) => fieldError(error.field, error.message));
          formAlert(placed.length && placed.every(Boolean)
            ? messages.rounds_fix_fields
            : say("rounds_refused", { detail: problemText(answer, response.status) }));
        } else {
          formAlert(say("rounds_refused", { detail: answer.detail || response.status }));
        }
        formError.scrollIntoView({ block: "nearest" });
      } catch (error) {
        formAlert(messages.rounds_network);
      } finally {
        button.disabled = false;
      }
    });

    function showOpened(round) {
      opened.className = "success";
      opened.replaceChildren();
      const title = document.createElement("p");
      title.textContent = say("rounds_opened", { name: round.name });
      const label = document.createElement("p");
      label.className = "commitment-label";
      label.textContent = messages.rounds_commitment;
      const hash = document.createElement("code");
      hash.className = "hash commitment";
      hash.id = "new-commitment";
      hash.textContent = round.seed_commitment;
      const explain = document.createElement("p");
      explain.textContent = messages.rounds_commitment_explain;
      const link = document.createElement("a");
      link.href = `${location.pathname.replace(/\/$/, "")}/${round.id}`;
      link.textContent = messages.rounds_open_page;
      opened.append(title, label, hash, explain, link);
      opened.focus();
    }
  }

  // --- one round: refresh, draw, check the seed -------------------------------------------------------------------
  const round = document.getElementById("round");
  if (!round) return;
  const roundId = round.dataset.roundId;

  const refresh = document.getElementById("refresh");
  const refreshResult = document.getElementById("refresh-result");
  async function reload(announce) {
    try {
      const response = await fetch(`${API}/${roundId}`, { credentials: "same-origin" });
      if (!response.ok) return;
      const view = await response.json();
      document.getElementById("application-count").textContent = view.application_count;
      document.getElementById("round-status").textContent = messages[`rounds_status_${view.status}`];
      if (view.status !== round.dataset.status) {
        round.dataset.status = view.status;
        const drawForm = document.getElementById("draw");
        if (drawForm && view.status === "closed") {
          drawForm.hidden = false;
          document.getElementById("draw-not-yet").hidden = true;
        }
        if (view.status === "drawn") location.reload();
      }
      if (announce) {
        refreshResult.textContent = say("rounds_refreshed", {
          count: view.application_count, status: messages[`rounds_status_${view.status}`],
        });
      }
    } catch (error) {
      if (announce) refreshResult.textContent = messages.rounds_network;
    }
  }
  if (refresh) {
    refresh.addEventListener("click", () => reload(true));
    // A light poll: one small public GET a minute, only while the page is in view and the round not drawn.
    setInterval(() => { if (document.visibilityState === "visible") reload(false); }, 60000);
  }

  const drawForm = document.getElementById("draw");
  const drawResult = document.getElementById("draw-result");
  function drawAlert(text, kind, extra) {
    drawResult.className = kind;
    drawResult.replaceChildren(document.createTextNode(text));
    if (extra) drawResult.append(" ", extra);
    drawResult.focus();
  }
  function linkTo(href, key) {
    const link = document.createElement("a");
    link.href = href;
    link.textContent = messages[key];
    return link;
  }
  if (drawForm) {
    drawForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const beacon = document.getElementById("beacon-value");
      const body = beacon ? { beacon_value: beacon.value } : {};
      const button = drawForm.querySelector("button[type=submit]");
      button.disabled = true;
      drawAlert(messages.rounds_drawing, "notice");
      try {
        const response = await send(`${API}/${roundId}/draw`, body);
        const problem = response.ok ? {} : await response.json().catch(() => ({}));
        if (response.ok) {
          drawAlert(messages.rounds_drawn_ok, "success");
          location.reload();
          return;
        }
        const code = problem.code;
        if (response.status === 409 && code === "claims_pending") {
          drawAlert(messages.rounds_claims_pending, "alert", linkTo("/console/claims", "rounds_claims_link"));
        } else if (code === "round_still_open") {
          drawAlert(messages.rounds_still_open, "alert");
        } else if (code === "round_already_drawn") {
          drawAlert(messages.rounds_already_drawn, "alert", linkTo(location.pathname, "rounds_reload"));
        } else if (code === "beacon_not_available") {
          drawAlert(messages.rounds_beacon_not_yet, "alert");
        } else if (response.status === 401) {
          drawAlert(messages.rounds_signed_out, "alert");
        } else {
          drawAlert(say("rounds_draw_refused", { detail: problemText(problem, response.status) }), "alert");
        }
      } catch (error) {
        drawAlert(messages.rounds_network, "alert");
      } finally {
        button.disabled = false;
      }
    });
  }

  // The commitment is the SHA-256 of the seed's bytes (not of its hex text), docs/draw.md §3.
  const seedCheck = document.getElementById("seed-check");
  if (seedCheck) {
    const seedHex = document.getElementById("seed").textContent.trim();
    const commitment = document.getElementById("result-commitment").textContent.trim();
    const published = document.getElementById("commitment").textContent.trim();
    if (!(window.crypto && crypto.subtle)) {
      seedCheck.textContent = messages.rounds_check_unavailable;
    } else {
      const bytes = new Uint8Array((seedHex.match(/../g) || []).map((pair) => parseInt(pair, 16)));
      crypto.subtle.digest("SHA-256", bytes).then((digest) => {
        const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
        const ok = /^([0-9a-f]{2})+$/.test(seedHex) && hex === commitment && hex === published;
        seedCheck.className = ok ? "check-ok" : "check-bad";
        seedCheck.textContent = ok ? messages.rounds_check_ok : messages.rounds_check_bad;
      });
    }
  }
})();
