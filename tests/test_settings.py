"""Every default in one place: the config schema, which the settings dataclasses and the
command line take theirs from."""

import dataclasses
from pathlib import Path

import pytest

from ganprint import GanprintError
from ganprint.attacks import AttackSettings
from ganprint.attribution.network import AttributionSettings
from ganprint.attribution.training import OptimiserSettings
from ganprint.baselines.linear import LinearSettings
from ganprint.cli import build_parser, main
from ganprint.gans import ARCHITECTURES
from ganprint.settings import SCHEMA_PATH, block_defaults, complete_block, defaults_from_schema

REPO = Path(__file__).resolve().parents[1]

SETTINGS_BLOCKS = [
    (OptimiserSettings, ("attribution",)),
    (AttributionSettings, ("attribution",)),
    (AttackSettings, ("attacks",)),
    (LinearSettings, ("baselines", "linear")),
    *[(classes[0], ("gan", arch)) for arch, classes in ARCHITECTURES.items()],
]


@pytest.mark.parametrize("settings_class, keys", SETTINGS_BLOCKS)
def test_settings_defaults_are_the_schema_defaults(settings_class, keys):
    block = block_defaults(*keys)
    instance = settings_class()
    shared = [field.name for field in dataclasses.fields(settings_class) if field.name in block]
    assert shared
    for name in shared:
        expected = block[name]
        expected = tuple(expected) if isinstance(expected, list) else expected
        assert getattr(instance, name) == expected, name


def test_each_gan_reads_its_own_block():
    mmdgan, cramergan = ARCHITECTURES["mmdgan"][0](), ARCHITECTURES["cramergan"][0]()
    assert (mmdgan.critic_output_dim, mmdgan.gp_weight, mmdgan.l2_weight) == (16, 1.0, 1.0)
    assert (cramergan.critic_output_dim, cramergan.gp_weight) == (256, 10.0) and not hasattr(cramergan, "l2_weight")


def test_inherited_fields_take_the_subclass_block():
    @dataclasses.dataclass
    class Base:
        epochs: int = 1

    @dataclasses.dataclass
    @defaults_from_schema("attribution")
    class Derived(Base):
        fmap_max: int

    assert Derived() == Derived(epochs=block_defaults("attribution")["epochs"],
                                fmap_max=block_defaults("attribution")["fmap_max"])


def test_nested_blocks_are_filled():
    assert block_defaults("baselines")["linear"] == block_defaults("baselines", "linear")
    assert block_defaults("baselines", "linear")["epochs"] == 20


def test_a_bad_setting_names_its_key():
    with pytest.raises(GanprintError, match=r"attribution\.learning_rate: -1 is less than or equal to the minimum"):
        complete_block({"learning_rate": -1}, "attribution")
    with pytest.raises(GanprintError, match=r"attribution: Additional properties .*'learning_rte'"):
        complete_block({"learning_rte": 0.1}, "attribution")
    assert complete_block({"epochs": 3}, "attribution")["epochs"] == 3


def test_command_line_defaults_come_from_the_schema():
    arguments = build_parser().parse_args(["evaluate", "--model", "m.pt", "--test", "a.npy", "--metrics", "m.json",
                                           "--features", "f.npz", "--confusion", "c.csv"])
    assert arguments.batch == block_defaults("attribution")["eval_batch"]
    assert arguments.seed == block_defaults("attribution")["seed"]
    arguments = build_parser().parse_args(["sample-gan", "--checkpoint", "g.pt", "--n-train", "2", "--n-test", "2",
                                           "--n-val", "2", "--seed", "0", "--train-output", "a", "--test-output", "b",
                                           "--val-output", "c"])
    assert arguments.batch == block_defaults("sampling")["batch"]


def test_stage_settings_are_checked_against_the_schema(tmp_path, capsys):
    code = main(["--quiet", "train-attribution", "--train", "a.npy", "--sources", "a", "--settings", '{"epochs": 0}',
                 "--output", str(tmp_path / "m.pt")])
    assert code == 1 and "attribution.epochs: 0 is less than the minimum of 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train-attribution", "--train", "a.npy", "--sources", "a", "--settings", "{not json",
              "--output", str(tmp_path / "m.pt")])
    assert "--settings is not valid JSON" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_the_workflow_validates_against_the_packaged_schema():
    assert (REPO / "workflow/schemas/config.schema.yaml").resolve() == SCHEMA_PATH.resolve()
