// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";
  // Patient search filters as you type (the form still submits without JS).
  var search = document.querySelector("input[data-live-search]");
  if (search) {
    var timer = null;
    search.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var url = new URL(window.location.href);
        url.searchParams.set("q", search.value);
        fetch(url.toString(), { headers: { "X-Partial": "patient-rows" }, credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.text() : null; })
          .then(function (html) {
            var body = document.getElementById("patient-rows");
            if (html !== null && body) { body.innerHTML = html; }
            window.history.replaceState(null, "", url.toString());
          });
      }, 250);
    });
  }
  // Ask before actions marked as consequential.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { ev.preventDefault(); }
    });
  });
})();
