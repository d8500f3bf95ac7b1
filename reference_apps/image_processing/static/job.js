// Follows a job's state on its page without reloading: polls the JSON API (the session cookie
// identifies the owner) until the job is done or failed, backing off from 1 s to 5 s.
"use strict";

(function () {
  const box = document.getElementById("job");
  if (!box) return;
  const status = document.getElementById("status");
  const finished = ["done", "failed"];
  let delay = 1000;

  function show(job) {
    status.textContent = job.status;
    status.className = "state state-" + job.status;
    box.dataset.status = job.status;
    document.getElementById("result-pending").hidden = finished.includes(job.status);
    if (job.status === "done") {
      const image = document.getElementById("result-thumbnail");
      image.src = box.dataset.resultThumbnail;
      image.hidden = false;
      document.getElementById("download").hidden = false;
    } else if (job.status === "failed") {
      const error = document.getElementById("job-error");
      error.textContent = job.error || "the job failed";
      error.hidden = false;
    }
  }

  async function poll() {
    try {
      const response = await fetch(box.dataset.stateUrl, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      if (response.ok) {
        const job = await response.json();
        show(job);
        if (finished.includes(job.status)) return;
      } else if (response.status === 404) {
        return; // the job is gone: nothing more to follow
      }
    } catch (error) {
      // The network or the server is down for a moment: try again later.
    }
    delay = Math.min(delay * 1.5, 5000);
    window.setTimeout(poll, delay);
  }

  if (!finished.includes(box.dataset.status)) window.setTimeout(poll, delay);
})();
