// Starts Swagger UI on the document named by the page (no inline script: the page's
// Content-Security-Policy allows scripts from this server only).
window.addEventListener("load", () => {
  const container = document.getElementById("swagger-ui-container");
  window.ui = SwaggerUIBundle({ url: container.dataset.specUrl, dom_id: "#swagger-ui-container" });
});
