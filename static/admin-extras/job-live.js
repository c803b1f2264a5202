// The training job page: while the job runs, fetch the live part of the page
// every two seconds and swap it in; stop once the job has ended.
(function () {
  "use strict";
  const container = document.getElementById("job-live");
  if (!container) return;
  const url = container.dataset.liveUrl;
  const finished = () => container.querySelector("[data-finished='true']") !== null;

  async function refresh() {
    if (finished()) {
      // The cancel button and the read-only fields are from the page's load: reload once.
      if (container.dataset.reloaded !== "true" && container.dataset.wasRunning === "true") {
        container.dataset.reloaded = "true";
        window.location.reload();
      }
      return;
    }
    container.dataset.wasRunning = "true";
    try {
      const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
      if (response.ok) container.innerHTML = await response.text();
    } catch (error) {
      // Network trouble: try again on the next tick.
    }
    window.setTimeout(refresh, 2000);
  }
  window.setTimeout(refresh, 2000);
})();
