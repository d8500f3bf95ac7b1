// Follows job states without reloading: the job page (#job) and the recent-jobs list (#jobs)
// poll the JSON API (the session cookie identifies the owner) while a job is queued or running,
// backing off from 1 s to 5 s (longer when a 503 says Retry-After, up to a minute), and show a
// finished job's result thumbnail.
"use strict";

(function () {
  const finished = ["done", "failed"];

  function follow(url, update) {
    let delay = 1000;
    async function poll() {
      let wait = 0;
      try {
        const response = await fetch(url, {
          headers: { Accept: "application/json" },
          credentials: "same-origin",
        });
        if (response.status === 404 || response.status === 401) return; // nothing to follow
        if (response.ok && update(await response.json())) return;
        if (!response.ok) wait = Math.min(Number(response.headers.get("Retry-After")) || 0, 60);
      } catch (error) {
        // The network or the server is down for a moment: try again later.
      }
      delay = Math.min(delay * 1.5, 5000);
      window.setTimeout(poll, Math.max(delay, wait * 1000));
    }
    window.setTimeout(poll, delay);
  }

  function showState(element, status) {
    element.textContent = status;
    element.className = "state state-" + status;
  }

  // One job's page: true once the job is finished.
  const box = document.getElementById("job");
  if (box && !finished.includes(box.dataset.status)) {
    follow(box.dataset.stateUrl, (job) => {
      showState(document.getElementById("status"), job.status);
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
      return finished.includes(job.status);
    });
  }

  // The list: true once none of its cards is pending.
  const list = document.getElementById("jobs");
  const pending = () =>
    Array.from(list.querySelectorAll(".job-card")).filter(
      (card) => !finished.includes(card.dataset.status),
    );
  if (list && pending().length) {
    follow(list.dataset.jobsUrl, (answer) => {
      const byId = new Map(answer.jobs.map((job) => [job.id, job]));
      for (const card of pending()) {
        const job = byId.get(card.dataset.jobId);
        if (!job || job.status === card.dataset.status) continue;
        card.dataset.status = job.status;
        showState(card.querySelector(".state"), job.status);
        if (job.status === "done") {
          const image = card.querySelector("img");
          image.src = card.dataset.resultThumbnail;
          image.alt = image.alt.replace(/^original of /, "result of ");
        }
      }
      return pending().length === 0;
    });
  }
})();
