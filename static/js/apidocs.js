// Starts Swagger UI on /api/v1/docs (templates/ninja/swagger.html) with the API's
// settings, sending the session's CSRF token on writes. Deep links are off: with them
// each operation's path is a link inside its toggle button, a control within a control
// that screen readers cannot reach.
(function () {
  "use strict";
  const body = document.body.dataset;
  const settings = JSON.parse(document.getElementById("swagger-settings").textContent);
  settings.dom_id = "#swagger-ui";
  settings.deepLinking = false;
  settings.presets = [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset];
  if (body.apiCsrf && body.csrfToken) {
    settings.requestInterceptor = function (request) {
      request.headers["X-CSRFToken"] = body.csrfToken;
      return request;
    };
  }
  window.ui = SwaggerUIBundle(settings);
})();
