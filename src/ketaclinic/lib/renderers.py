"""The project's form renderer: every form draws its fields and errors from one pair of templates.

`FORM_RENDERER` names it. Django's default renderer only sees Django's own form templates; this
one renders through the project's template settings (`TemplatesSetting`), so `{{ form }}` and
`{{ field.as_field_group }}` use `templates/forms/form.html` and `templates/forms/field.html`,
and those include the one error summary, `templates/forms/error_summary.html`.
"""

from __future__ import annotations

from django.forms.renderers import TemplatesSetting


class FormRenderer(TemplatesSetting):
    """`TemplatesSetting` with the project's form and field templates."""

    form_template_name = "forms/form.html"
    field_template_name = "forms/field.html"
