// The printable 120 brief: the print button (no inline handler under the CSP).
document.addEventListener("DOMContentLoaded", () => {
  const button = document.getElementById("print");
  if (button) button.addEventListener("click", () => window.print());
});
