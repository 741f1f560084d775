// One key-group claim: the street office's decision sent to the API with the ETag the page was rendered with.
// A stale ETag (412) means someone else decided first; a 422 names the fields to correct, shown beside them.
// The evidence previews are previews.js's.
"use strict";
(function () {
  const messages = JSON.parse(document.getElementById("messages").textContent);

  const form = document.getElementById("claim-decision");
  if (!form) return;
  const result = document.getElementById("decision-result");
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const fieldMessages = { reason: messages.claim_js_error_reason, valid_until: messages.claim_js_error_valid_until };

  function show(kind, text, reload) {
    result.className = kind;
    result.setAttribute("role", kind === "alert" ? "alert" : "status");
    result.textContent = text;
    if (reload) {
      const link = document.createElement("a");
      link.href = location.pathname;
      link.textContent = " " + messages.claim_js_reload;
      result.appendChild(link);
    }
  }

  function clearFieldErrors() {
    form.querySelectorAll(".field-error").forEach((element) => { element.textContent = ""; });
    form.querySelectorAll("[aria-invalid]").forEach((element) => element.removeAttribute("aria-invalid"));
  }

  // Returns whether any error belonged to a field on this form.
  function showFieldErrors(errors) {
    let first = null;
    for (const error of errors) {
      const name = String(error.field || "");
      const input = form.elements.namedItem(name);
      const slot = document.getElementById(`${name}-error`);
      if (!input || !slot) continue;
      slot.textContent = fieldMessages[name] || error.message;
      input.setAttribute("aria-invalid", "true");
      first = first || input;
    }
    if (first) first.focus();
    return first !== null;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors();
    show("", "", false);
    const decision = form.elements.namedItem("decision").value;
    const body = { decision };
    const validUntil = form.elements.namedItem("valid_until").value;
    const reason = form.elements.namedItem("reason").value;
    if (decision === "verified" && validUntil) body.valid_until = validUntil;
    if (reason.trim()) body.reason = reason;
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const response = await fetch(`/api/v1/key-group-claims/${form.dataset.claimId}/decision`, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "If-Match": form.dataset.etag, "X-CSRF-Token": csrf },
        body: JSON.stringify(body),
      });
      if (response.ok) {
        const claim = await response.json();
        form.hidden = true;
        document.getElementById("claim-status").textContent = messages[`claim_status_${claim.status}`] || claim.status;
        const text = claim.status === "verified"
          ? messages.claim_js_verified.replace("{valid_until}", claim.valid_until)
          : messages.claim_js_rejected;
        show("success", text, false);
        return;
      }
      const problem = await response.json().catch(() => ({}));
      if (response.status === 412) {
        show("alert", messages.claim_js_conflict, true);
      } else if (response.status === 409) {
        show("alert", messages.claim_js_already, true);
      } else if (response.status === 401) {
        show("alert", messages.claim_js_signed_out, false);
      } else if (response.status === 403) {
        show("alert", messages.claim_js_forbidden, false);
      } else if ((response.status === 422 || response.status === 400) && showFieldErrors(problem.errors || [])) {
        show("alert", messages.claim_js_fields, false);
      } else {
        const fields = (problem.errors || []).map((error) => `${error.field}: ${error.message}`).join("; ");
        show("alert", messages.claim_js_refused.replace("{detail}", fields || problem.detail || response.status));
      }
    } catch (error) {
      show("alert", messages.claim_js_network, false);
    } finally {
      button.disabled = false;
    }
  });
})();
