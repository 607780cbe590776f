"""``make_material``: a constitutive law from a config table (e.g. the ``[material]`` TOML table)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from distrom.errors import InputError
from distrom.mechanics.materials._base import Material

# law -> (required keys, optional keys); the keys are the constructors' keyword arguments.
LAWS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "elastic": (("E", "nu"), ("alpha", "T_ref", "density")),
    "norton": (("E", "nu", "K", "n"), ("alpha", "T_ref", "density")),
    "chaboche": (("E", "nu", "R0", "C", "gamma", "K", "n"), ("Q", "b", "alpha", "T_ref", "density")),
    "umat": (("library", "props", "nstatv"),
             ("statev_names", "cmname", "symbol", "alpha", "T_ref", "density")),
}


def _law_class(law: str) -> Any:
    if law == "elastic":
        from distrom.mechanics.materials.elastic import LinearElastic
        return LinearElastic
    if law == "norton":
        from distrom.mechanics.materials.norton import Norton
        return Norton
    if law == "chaboche":
        from distrom.mechanics.materials.chaboche import Chaboche
        return Chaboche
    from distrom.mechanics.materials.umat import UmatMaterial
    return UmatMaterial


def make_material(spec: Mapping[str, Any], *, where: str = "material") -> Material:
    """Build a constitutive law from a table.

    Parameters
    ----------
    spec : Mapping
        ``{"law": "elastic" | "norton" | "chaboche" | "umat", <parameters>}``. Every coefficient
        may be a number or a table ``{"T": [...], "value": [...]}`` (see ``Coefficient``).
        Accepted parameters per law: see ``LAWS`` and docs/materials.md.
    where : str
        Prefix naming the table in error messages (e.g. ``"case.toml: [material]"``).

    Returns
    -------
    Material

    Raises
    ------
    InputError
        Unknown law, unknown or missing parameter, or a value out of range; the message names
        the key and lists the accepted ones.
    """
    if not isinstance(spec, Mapping):
        raise InputError(f"{where}: expected a table with a 'law' key, got {type(spec).__name__}")
    if "law" not in spec:
        raise InputError(f"{where}: missing key 'law'; accepted laws: {', '.join(LAWS)}")
    law = spec["law"]
    if law not in LAWS:
        raise InputError(f"{where}.law: unknown law {law!r}; accepted laws: {', '.join(LAWS)}")
    required, optional = LAWS[law]
    params = {k: v for k, v in spec.items() if k != "law"}
    accepted = ", ".join(required + optional)
    for key in params:
        if key not in required and key not in optional:
            raise InputError(f"{where}.{key}: unknown parameter {key!r} for law {law!r}; "
                             f"accepted: {accepted}")
    for key in required:
        if key not in params:
            raise InputError(f"{where}.{key}: missing parameter {key!r} for law {law!r}; "
                             f"required: {', '.join(required)}")
    return _law_class(law)(**params, where=where)  # type: ignore[no-any-return]
