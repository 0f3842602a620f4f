// A sign-in link's page submits itself: a person's browser signs in with one tap, while a chat
// app fetching the link for a preview (which runs no script) does not spend it.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("signin");
  if (form) { form.submit(); }
});
