// A street office revealing the claimant's full ID number: POST /api/v1/vendors/{id}/id-number-reveals with the
// purpose typed (or the prefilled claim reference). The number replaces the masked one on this page only; the
// answer is no-store, and a reload shows the masked number again.
"use strict";
(function () {
  const form = document.getElementById("id-number-reveal");
  if (!form) return;
  const messages = JSON.parse(document.getElementById("messages").textContent);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const result = document.getElementById("reveal-result");
  const purpose = form.elements.namedItem("purpose");
  const error = document.getElementById("purpose-error");

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    purpose.removeAttribute("aria-invalid");
    result.textContent = "";
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const response = await fetch(`/api/v1/vendors/${form.dataset.vendorId}/id-number-reveals`, {
        method: "POST",
        credentials: "same-origin",
        cache: "no-store",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify({ purpose: purpose.value }),
      });
      if (response.ok) {
        const reveal = await response.json();
        document.getElementById("id-number").textContent = reveal.id_number;
        form.hidden = true;
        const note = document.createElement("p");
        note.className = "muted";
        note.setAttribute("role", "status");
        note.textContent = messages.claim_js_reveal_shown;
        form.after(note);
      } else if (response.status === 422) {
        error.textContent = messages.claim_js_reveal_purpose;
        purpose.setAttribute("aria-invalid", "true");
        purpose.focus();
      } else {
        result.textContent = messages.claim_js_reveal_refused;
      }
    } catch (failure) {
      result.textContent = messages.claim_js_network;
    } finally {
      button.disabled = false;
    }
  });
})();
