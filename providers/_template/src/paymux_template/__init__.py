"""paymux-template: the skeleton of a paymux provider plugin (see docs/plugins.md)."""

from .provider import TemplateProvider
from .settings import TemplateSettings

__all__ = ["TemplateProvider", "TemplateSettings"]
