"""Bad choices and keys of every registered kind of part give the one-line error, with the
allowed options and keys read off the registries (in-process: the entry points print exactly
``error: <describe_bad_input(...)>``)."""

import dataclasses

import pytest
from hydra_runs import compose_pretrain

from hyperssl.cli.errors import describe_bad_input
from hyperssl.parts import PART_REGISTRIES
from hyperssl.validation import validate_pretrain

REGISTRIES = {registry.group: registry for registry in PART_REGISTRIES}
OPTIONS = [(registry.group, name) for registry in PART_REGISTRIES for name in registry.names()]


def select(group: str, option: str) -> str:
    return f"heads=[{option}]" if REGISTRIES[group].multi else f"{group}={option}"


def key_path(group: str, option: str) -> str:
    return f"heads.{option}" if REGISTRIES[group].multi else group


def error_line(overrides: list[str], tmp_path) -> str:
    # The quickstart's config with only these overrides (the tests' TINY sizes set keys, such as
    # the convnet's width, that other options of a group do not have).
    with pytest.raises(Exception) as caught:
        validate_pretrain(compose_pretrain(overrides, tmp_path))
    message = describe_bad_input(caught.value)
    assert message is not None, repr(caught.value)
    return message


@pytest.mark.parametrize("group", sorted(REGISTRIES))
def test_an_unknown_option_lists_the_registered_ones(group, tmp_path):
    message = error_line([select(group, "no_such_option")], tmp_path)
    assert message.startswith(f"{group}: unknown option 'no_such_option'; allowed: "), message
    listed = message.partition("allowed: ")[2].split(", ")
    assert set(REGISTRIES[group].names()) <= set(listed), message


@pytest.mark.parametrize(("group", "option"), OPTIONS)
def test_a_misspelt_key_of_a_selected_part_lists_its_schema_keys(group, option, tmp_path):
    path = key_path(group, option)
    message = error_line([select(group, option), f"{path}.no_such_key=1"], tmp_path)
    fields = [field.name for field in dataclasses.fields(REGISTRIES[group].schema(option))]
    assert message == f"{path}.no_such_key: unknown key; allowed: {', '.join(fields)}"
