// Small helpers for the account security pages. The pages work without
// them; this only adds a Print button to the backup codes.
"use strict";
document.querySelectorAll("[data-print]").forEach(function (button) {
  button.hidden = false;
  button.addEventListener("click", function () { window.print(); });
});
