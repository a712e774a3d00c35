// Admin forms whose fields depend on a kind (a channel's, an endpoint's, a rule's): only
// the fieldsets and rows of the chosen kind are shown. Fieldsets carry "kind-<value>";
// rows list their kinds in the form's data-kind-fields map, {"field": ["kind", ...]}.
// Without this script every field shows, each fieldset titled by its kind.
(function () {
  "use strict";
  function apply() {
    const select = document.getElementById("id_kind");
    if (!select) return;
    const kind = select.value;
    document.querySelectorAll("fieldset.kind-settings").forEach(function (set) {
      set.classList.toggle("kind-hidden", !set.classList.contains("kind-" + kind));
    });
    const holder = document.querySelector("[data-kind-fields]");
    if (!holder) return;
    const map = JSON.parse(holder.dataset.kindFields);
    Object.keys(map).forEach(function (field) {
      const row = document.querySelector(".form-row.field-" + field) ||
        document.querySelector(".field-" + field);
      if (row) row.classList.toggle("kind-hidden", map[field].indexOf(kind) === -1);
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    apply();
    const select = document.getElementById("id_kind");
    if (select) select.addEventListener("change", apply);
  });
})();
