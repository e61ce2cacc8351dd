// The responder's arrival page: attach the phone's position to the confirmation when the
// person allows it.
if (navigator.geolocation && document.getElementById("arrive-form")) navigator.geolocation.getCurrentPosition(function (p) {
  document.getElementById("lat").value = p.coords.latitude; document.getElementById("lon").value = p.coords.longitude;
}, function () {}, {timeout: 5000});
