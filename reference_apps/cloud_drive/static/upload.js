// Upload with a progress bar: the form is sent by XMLHttpRequest to the JSON API (whose upload
// events report the bytes sent), then the file list and the usage bar are read again from the
// page itself. Without JavaScript the same form posts to the page route and reloads.
"use strict";

(function () {
  const form = document.getElementById("upload-form");
  if (!form || !window.FormData || !window.XMLHttpRequest) return;
  const input = document.getElementById("upload-file");
  const box = document.getElementById("upload-progress-box");
  const bar = document.getElementById("upload-progress");
  const percent = document.getElementById("upload-percent");
  const status = document.getElementById("upload-status");
  const button = form.querySelector("button[type=submit]");

  function units(bytes) {
    const steps = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let value = bytes;
    let step = 0;
    while (value >= 1024 && step < steps.length - 1) {
      value /= 1024;
      step += 1;
    }
    return step === 0 ? `${value} bytes` : `${value.toFixed(1)} ${steps[step]}`;
  }

  function say(text, failed) {
    status.textContent = text;
    status.className = failed ? "error" : "notice";
    status.setAttribute("role", failed ? "alert" : "status");
  }

  function progress(value) {
    bar.value = value;
    bar.textContent = percent.textContent = `${value} %`;
  }

  // The list and the usage bar, as the server renders them now.
  async function refresh() {
    const response = await fetch(window.location.pathname, { credentials: "same-origin" });
    if (!response.ok) throw new Error(`the page answered ${response.status}`);
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    for (const id of ["file-list", "usage"]) {
      const current = document.getElementById(id);
      const update = fresh.getElementById(id);
      if (current && update) current.replaceWith(document.adoptNode(update));
    }
  }

  form.addEventListener("submit", (event) => {
    const file = input.files && input.files[0];
    if (!file) return; // the browser's own "required" message
    event.preventDefault();
    const limit = Number(form.dataset.maxBytes);
    if (limit && file.size > limit) {
      say(`${file.name} has ${units(file.size)}; the limit is ${units(limit)} a file.`, true);
      return;
    }
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.dataset.api);
    xhr.setRequestHeader("X-CSRFToken", form.elements.namedItem("csrf_token").value);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.responseType = "json";
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) progress(Math.floor((e.loaded * 100) / e.total));
    });
    xhr.upload.addEventListener("load", () => progress(100));
    xhr.addEventListener("load", async () => {
      button.disabled = false;
      const body = xhr.response || {};
      if (xhr.status !== 201) {
        const reason = body.error || `the server answered ${xhr.status}`;
        say(`${file.name} was not uploaded: ${reason}.`, true);
        return;
      }
      say(`${body.name} uploaded (${units(body.size)}).`, false);
      form.reset();
      try {
        await refresh();
      } catch (error) {
        say(`${body.name} uploaded; reload the page to see it in the list.`, false);
      }
    });
    xhr.addEventListener("error", () => {
      button.disabled = false;
      say(`${file.name} was not uploaded: the connection failed; try again.`, true);
    });
    progress(0);
    box.hidden = false;
    button.disabled = true;
    say(`Uploading ${file.name}…`, false);
    const data = new FormData();
    data.append("file", file, file.name);
    xhr.send(data);
  });
})();
