/* Varco: progressive enhancement only. Every form works without this file.
   - moves the focus to the error summary of a refused form;
   - adds a show/hide button under each password field.
   Loaded with `defer` from 'self' (the CSP allows no inline script). */
(function () {
  "use strict";

  var summary = document.getElementById("error-summary");
  if (summary) {
    summary.focus();
  }

  var body = document.body;
  var showText = body.getAttribute("data-varco-show") || "Show password";
  var hideText = body.getAttribute("data-varco-hide") || "Hide password";
  var fields = document.querySelectorAll("input.varco-password");
  Array.prototype.forEach.call(fields, function (input) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "btn btn-link btn-sm varco-toggle";
    button.setAttribute("aria-controls", input.id);
    button.textContent = showText;
    button.addEventListener("click", function () {
      var shown = input.type === "text";
      input.type = shown ? "password" : "text";
      button.textContent = shown ? showText : hideText;
    });
    // After the field and its error text, so the error stays next to the field.
    input.parentNode.appendChild(button);
  });

  /* Never send a password field as text: hide them all again on submit, so
     the browser's password manager sees password fields. */
  Array.prototype.forEach.call(document.querySelectorAll("form"), function (form) {
    form.addEventListener("submit", function () {
      Array.prototype.forEach.call(form.querySelectorAll("input.varco-password"), function (input) {
        input.type = "password";
      });
    });
  });
})();
