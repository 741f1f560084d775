// A department's decision on one task, sent to the API with the ETag the page was rendered with.
// A stale ETag (412) means someone else decided first: say so and offer the current state.
"use strict";
(function () {
  const form = document.getElementById("decision");
  if (!form) return;
  const messages = JSON.parse(document.getElementById("messages").textContent);
  const result = document.getElementById("decision-result");
  const csrf = document.querySelector('meta[name="csrf-token"]').content;

  function lines(name) {
    const field = form.elements.namedItem(name);
    return field ? field.value.split("\n").map((line) => line.trim()).filter(Boolean) : [];
  }

  function show(kind, text, reload) {
    result.className = kind;
    result.textContent = text;
    if (reload) {
      const link = document.createElement("a");
      link.href = location.pathname;
      link.textContent = " " + messages.decision_reload;
      result.appendChild(link);
    }
    result.focus();
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const decision = form.elements.namedItem("decision").value;
    const body = { decision, note: form.elements.namedItem("note").value };
    if (decision === "approve") body.conditions = lines("conditions");
    if (decision === "request_supplement") {
      body.missing = lines("missing").map((line) => {
        const [item, ...reason] = line.split(/[:：]/);
        return { item: item.trim(), reason: reason.join(":").trim() || item.trim() };
      });
    }
    const overdue = form.elements.namedItem("overdue_reason");
    if (overdue) body.overdue_reason = overdue.value;
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const response = await fetch(`/api/v1/tasks/${form.dataset.taskId}/decision`, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "If-Match": form.dataset.etag, "X-CSRF-Token": csrf },
        body: JSON.stringify(body),
      });
      if (response.ok) {
        const task = await response.json();
        const status = messages["task_status_" + task.status] || task.status;
        form.hidden = true;
        document.getElementById("task-status").textContent = status;
        show("success", messages.decision_done.replace("{status}", status), true);
        return;
      }
      const problem = await response.json().catch(() => ({}));
      if (response.status === 412) {
        show("alert", messages.decision_conflict, true);
      } else if (response.status === 409) {
        show("alert", messages.decision_invalid.replace("{detail}", problem.detail || ""), true);
      } else if (response.status === 401) {
        show("alert", messages.decision_signed_out, false);
      } else {
        const fields = (problem.errors || []).map((error) => `${error.field}: ${error.message}`).join("; ");
        show("alert", messages.decision_refused.replace("{detail}", fields || problem.detail || response.status));
      }
    } catch (error) {
      show("alert", messages.decision_network);
    } finally {
      button.disabled = false;
    }
  });
})();
