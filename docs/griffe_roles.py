"""A griffe extension for the docs build: the Sphinx roles left in our Markdown docstrings
(``:func:`nt_xent_views```, ``:class:`hyperssl.geometries.Geometry```) become code linked to the
object's entry in the API reference when it has one, plain code otherwise, instead of showing the
role's name."""

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:func|class|mod|data|meth|attr|exc|obj):`(~?)([\w.]+)(?:\(\))?`")


def _identifier(obj: griffe.Object, target: str) -> str | None:
    """The full path of ``target`` as seen from ``obj``: a name of ``obj`` or of an enclosing
    class or module, or a full ``hyperssl.`` path."""
    if target.startswith("hyperssl."):
        return target
    head = target.split(".")[0]
    scope: griffe.Object | None = obj
    while scope is not None:
        if head in scope.members:
            return f"{scope.path}.{target}"
        scope = scope.parent
    return None


class SphinxRolesToLinks(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is None or ":`" not in obj.docstring.value:
            return

        def replace(match: re.Match) -> str:
            short, target = match.groups()
            # `~a.b.c` shows as `c`, as Sphinx shows it.
            shown = f"<code>{target.rsplit('.', 1)[-1] if short else target}</code>"
            identifier = _identifier(obj, target)
            if identifier is None:
                return shown
            # An optional autoref: a link where the API reference has the object, else the text.
            return f'<autoref identifier="{identifier}" optional>{shown}</autoref>'

        obj.docstring.value = ROLE.sub(replace, obj.docstring.value)
