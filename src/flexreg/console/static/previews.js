// Document previews shared by the console's pages (key-group evidence, an application's materials).
// Images are plain <img> elements on the content endpoint. That endpoint answers PDFs as an attachment (so a
// plain link downloads them); a blob: URL of the same bytes lets the browser's own PDF viewer show one in the
// page. The request is the API's own, which logs the read. On failure the status line says so, in the text
// its data-failed attribute carries (each page's own language and wording).
"use strict";
(function () {
  document.querySelectorAll("iframe.evidence-pdf[data-src]").forEach(async (frame) => {
    const status = frame.parentElement.querySelector(".pdf-status");
    try {
      const response = await fetch(frame.dataset.src, { credentials: "same-origin" });
      if (!response.ok) throw new Error(String(response.status));
      const blob = await response.blob();
      frame.src = URL.createObjectURL(new Blob([blob], { type: "application/pdf" }));
      frame.dataset.loaded = "true";
    } catch (error) {
      if (status) status.textContent = status.dataset.failed || "";
    }
  });
})();
