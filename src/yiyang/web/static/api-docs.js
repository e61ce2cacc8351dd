// Swagger UI for /api/docs (the settings FastAPI's own docs page uses), started from a file
// so that the page needs no inline script under the Content-Security-Policy.
document.addEventListener("DOMContentLoaded", () => {
  const el = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: el.dataset.openapi,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  });
});
