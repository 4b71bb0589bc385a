// The import page while a worker checks or imports: asks every few seconds how far it has
// gone and updates the progress bar and its text (announced politely, role="status"). When
// the state changes, the page is loaded again to show the result. Without this script the
// page still works: "Check again" reloads it.
"use strict";

(() => {
  const section = document.getElementById("progress");
  if (!section) return;
  const url = section.dataset.progressUrl;
  const text = document.getElementById("progress-text");
  const bar = document.getElementById("progress-bar");
  let state = null;
  const tick = async () => {
    let answer = null;
    try {
      const response = await fetch(url, { credentials: "same-origin" });
      if (response.ok) answer = await response.json();
    } catch (error) {
      answer = null;
    }
    if (answer) {
      if (state !== null && answer.state !== state) {
        window.location.reload();
        return;
      }
      state = answer.state;
      const progress = answer.progress;
      if (progress && progress.total) {
        bar.max = progress.total;
        bar.value = progress.done;
        text.textContent = `${progress.stage}: ${progress.done} of ${progress.total}`;
      }
    }
    window.setTimeout(tick, 3000);
  };
  tick();
})();
