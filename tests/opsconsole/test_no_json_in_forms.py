"""No admin add or change page asks the operator to type JSON: every field of every
app's forms is a typed field (ticks, lines, selects), whatever the model stores."""

from __future__ import annotations

import pytest
from django import forms
from django.contrib import admin
from django.test import RequestFactory

pytestmark = pytest.mark.django_db

APPS = {"alerts", "healthchecks", "notifications", "oncall", "metrics", "opsconsole"}


def _admin_forms(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in APPS:
            continue
        if model_admin.has_add_permission(request):
            yield f"{model.__name__} add", model_admin.get_form(request, None)
        obj = model._default_manager.first()
        if obj is not None and model_admin.has_change_permission(request, obj):
            yield f"{model.__name__} change", model_admin.get_form(request, obj)
        for inline in model_admin.get_inline_instances(request):
            yield (
                f"{model.__name__} inline {inline.model.__name__}",
                inline.get_formset(request).form,
            )


def test_no_form_field_expects_json(alice):
    alice.is_superuser = True
    asking = [
        f"{where}: {name}"
        for where, form_class in _admin_forms(alice)
        for name, field in form_class().fields.items()
        if isinstance(field, forms.JSONField)
    ]
    assert asking == []
