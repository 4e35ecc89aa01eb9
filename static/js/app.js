/* HealthTrack: progressive enhancements only; every page works without this file.
 * Loaded with `defer` from base.html; no inline script anywhere (Content-Security-Policy). */
(function () {
  "use strict";

  // Read-only secrets (a new API token): select the whole value on focus, easy to copy.
  document.querySelectorAll("[data-select-on-focus]").forEach(function (input) {
    input.addEventListener("focus", function () {
      input.select();
    });
  });

  // The member switcher: reload the page for the member chosen (the button does it without JS).
  document.querySelectorAll("[data-submit-on-change]").forEach(function (select) {
    select.addEventListener("change", function () {
      select.form.submit();
    });
  });

  // "Copy" buttons next to a value: shown only where the Clipboard API is available.
  if (navigator.clipboard && window.isSecureContext) {
    document.querySelectorAll("[data-copy-target]").forEach(function (button) {
      var target = document.getElementById(button.getAttribute("data-copy-target"));
      if (!target) {
        return;
      }
      var label = button.textContent;
      button.hidden = false;
      button.addEventListener("click", function () {
        navigator.clipboard.writeText(target.value).then(
          function () {
            button.textContent = "Copied";
            window.setTimeout(function () {
              button.textContent = label;
            }, 2000);
          },
          function () {
            target.focus();
          }
        );
      });
    });
  }
})();
