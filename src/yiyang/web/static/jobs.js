// The caregiver's phone page: put the phone's position on every check-in/out form when the
// caregiver allows it; the server flags (never refuses) a position far from the home.
if (navigator.geolocation) navigator.geolocation.getCurrentPosition(function (p) {
  document.querySelectorAll("form.geo").forEach(function (f) {
    f.elements.lat.value = p.coords.latitude; f.elements.lon.value = p.coords.longitude;
  });
}, function () {}, {timeout: 8000, enableHighAccuracy: true});
