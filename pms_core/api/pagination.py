"""Page-number pagination with a checked ``page_size``: its own module, because DRF's ``GenericAPIView``
reads ``DEFAULT_PAGINATION_CLASS`` while ``pms_core.api.base`` is still being imported (so this module imports
nothing that imports DRF's generics)."""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.pagination import PageNumberPagination

MAX_PAGE_SIZE = 500


class ApiPagination(PageNumberPagination):
    """Pages of ``PAGE_SIZE`` (50); ``page_size`` asks for up to ``MAX_PAGE_SIZE``. A ``page_size`` that is
    not a number from 1 to the maximum is a 400 naming it (DRF would silently use the default)."""

    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        # Leading zeros off and the length first: int() refuses more than 4300 digits with a ValueError (a 500).
        digits = raw.lstrip("0")
        if not (raw.isascii() and raw.isdigit() and len(digits) <= 9 and 1 <= int(digits or "0") <= self.max_page_size):
            raise exceptions.ValidationError(
                {self.page_size_query_param: [f"Must be a whole number from 1 to {self.max_page_size}."]}
            )
        return int(digits)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size)
                parameter["description"] = f"Results per page: 1 to {self.max_page_size} (default {self.page_size})."
        return parameters
