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
  // The error summary's links take the person to the field itself, focused, with its label or
  // question in view (a plain link only scrolls), as in the GOV.UK Design System.
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest(".error-summary a[href^='#']");
    if (!link) return;
    var field = document.getElementById(link.getAttribute("href").slice(1));
    if (!field) return;
    event.preventDefault();
    var legend = field.closest("fieldset") && field.closest("fieldset").querySelector("legend");
    var label = legend || document.querySelector("label[for='" + field.id + "']") || field;
    label.scrollIntoView();
    field.focus({ preventScroll: true });
  });
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-submitted-at]").forEach(function (form) {
      delete form.dataset.submittedAt;
    });
  });
})();
