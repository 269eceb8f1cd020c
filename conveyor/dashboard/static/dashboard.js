// Conveyor dashboard: ask before destructive form posts (forms with data-confirm). No inline script
// anywhere, so the Content-Security-Policy can forbid it.
document.addEventListener("submit", function (event) {
  var form = event.target;
  var question = form && form.getAttribute && form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
}, true);
