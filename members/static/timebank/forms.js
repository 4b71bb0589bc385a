// A double-clicked (or double-tapped) submit sends its form once: the second click within a
// second is ignored, as in the GOV.UK Design System. The server is safe either way (forms that
// move hours carry an idempotency key); this spares the person a second page. Going back to a
// page (the back button) lets its forms be sent again.
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset.submittedAt && Date.now() - Number(form.dataset.submittedAt) < 1000) {
      event.preventDefault();
      return;
    }
    form.dataset.submittedAt = String(Date.now());
  });
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-submitted-at]").forEach(function (form) {
      delete form.dataset.submittedAt;
    });
  });
})();
