// Small progressive enhancements; every page works without JavaScript.
document.addEventListener("htmx:afterSwap", (event) => {
  // Keep the export link in step with the filters shown.
  const link = document.getElementById("export-link");
  if (link && event.detail.target.id === "results") {
    link.href = "/api/elders/export.xlsx" + window.location.search;
  }
});
