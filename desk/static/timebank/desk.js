// The broker's desk: approve or decline an exchange without reloading the whole desk.
// Progressive enhancement: without this script the same forms post and the desk reloads.
// The server answers an in-place post with the card that replaces the one acted on, then
// anything else on the desk that changed (by id). The card is announced (role="status") and
// takes the focus, so the next Tab goes on to the next card.
// Anything else (an error, a sign-in page, no network) posts the form the plain way, so the
// page that comes back says what happened.
"use strict";

document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-in-place")) return;
  const card = form.closest(".card");
  if (!card) return;
  event.preventDefault();
  const buttons = card.querySelectorAll("button");
  buttons.forEach((button) => { button.disabled = true; });
  let response = null;
  try {
    response = await fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      redirect: "manual",
      headers: { "X-Requested-With": "in-place" },
    });
  } catch (error) {
    response = null;
  }
  if (!response || response.status !== 200) {
    form.submit();
    return;
  }
  const fragment = document.createRange().createContextualFragment(await response.text());
  const [answer, ...updates] = fragment.children;
  // After the card, what else on the desk has changed (the count to approve), by id.
  for (const update of updates) {
    const old = update.id && document.getElementById(update.id);
    if (old) old.replaceWith(update);
  }
  card.replaceWith(answer);
  answer.focus();
});
