"""Recipes and typed configs: every recipe in specs/ validates; edits and errors are clear."""
from __future__ import annotations

import pathlib

import pytest
import yaml

from zoo.config import EvalConfig, SampleConfig, TrainConfig
from zoo.errors import ZooError
from zoo.training.recipes import apply_overrides, list_recipes, load_recipe, recipe_path_for, resolve_train_config
from zoo.registry import list_models, spec_path

SPECS = pathlib.Path(__file__).resolve().parents[2] / "specs"
RECIPES = list_recipes(str(SPECS))
SCHEMA_KEYS = {"data", "validation", "epochs", "steps", "batch_size", "eval_batch_size", "optimizer", "lr_schedule",
               "kl_warmup", "free_bits", "grad_clip", "grad_skip", "max_skips", "ema", "importance_samples", "seed",
               "dtype", "augment", "source"}


@pytest.mark.parametrize("path", RECIPES, ids=[pathlib.Path(p).stem for p in RECIPES])
def test_every_recipe_loads_validates_and_cites_its_source(path):
    raw = load_recipe(path)
    cfg, _ = resolve_train_config(recipe_path=path)
    assert len(cfg.source.split()) >= 5, "a recipe says where its numbers come from"
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    assert yaml.safe_load(yaml.safe_dump(cfg.to_dict())) == cfg.to_dict(), "the config saves as plain YAML"
    assert (cfg.epochs is None) != (cfg.steps is None)
    assert set(raw) - set(TrainConfig.__dataclass_fields__) == set()
    spec = SPECS / (pathlib.Path(path).stem + ".hvae")
    assert spec.exists(), f"{path} has no spec beside it"


def test_the_published_specs_have_recipes():
    have = {pathlib.Path(p).stem for p in RECIPES}
    assert {"vae", "ladder", "dlgm", "nvae8", "nvae16"} <= have
    assert recipe_path_for(spec_path("ladder")).endswith("ladder.yaml")


def test_recipe_values_from_the_papers():
    davi, _ = resolve_train_config(recipe_path=str(SPECS / "nvae16.yaml"))
    assert (davi.optimizer.name, davi.optimizer.lr, davi.optimizer.eps) == ("adamax", 1e-2, 1e-3)
    assert (davi.kl_warmup.name, davi.kl_warmup.epochs, davi.kl_warmup.start) == ("linear", 16, 0.1)
    assert davi.batch_size * davi.processes == 160 and davi.augment == ("hflip", "vflip")
    sere, _ = resolve_train_config(recipe_path=str(SPECS / "dlgm.yaml"))
    assert (sere.kl_warmup.name, sere.kl_warmup.levels, sere.epochs, sere.batch_size) == ("geometric", 10, 4000, 256)
    burda, _ = resolve_train_config(recipe_path=str(SPECS / "vae.yaml"))
    assert burda.lr_schedule.name == "staircase" and burda.epochs == 3280 and burda.importance_samples == 5000


def test_command_line_edits():
    recipe = {"epochs": 10, "optimizer": {"name": "adam", "lr": 1e-3}, "kl_warmup": "none"}
    cfg, edited = resolve_train_config(recipe, recipe_sets=["optimizer.lr=2e-3", "kl_warmup.name=linear",
                                                            "kl_warmup.epochs=3", "augment=[hflip]"], steps=50)
    assert cfg.optimizer.lr == 2e-3 and cfg.kl_warmup.epochs == 3 and cfg.augment == ("hflip",)
    assert cfg.steps == 50 and cfg.epochs is None and "epochs" not in edited
    assert recipe["optimizer"]["lr"] == 1e-3, "edits do not change the loaded recipe"
    assert apply_overrides({}, ["a.b.c=1"]) == {"a": {"b": {"c": 1}}}


@pytest.mark.parametrize("recipe, sets, message", [
    ({"epochs": 1}, ["optimizer.nam=adam"], r"unknown key 'optimizer.nam' \(did you mean 'name'\?\)"),
    ({"epochs": 1}, ["optimizer.name=adamm"], r"optimizer.name 'adamm' is not one of adam, adamax, adamw"),
    ({"epochs": 1}, ["lr_schedule.name=cosine_restart"], r"did you mean 'cosine_restarts'"),
    ({"epochs": 1, "steps": 3}, [], r"exactly one of 'epochs' and 'steps'"),
    ({}, [], r"exactly one of 'epochs' and 'steps'"),
    ({"epochs": 1}, ["batch_size=0"], r"batch_size must be a positive integer"),
    ({"epochs": 1}, ["batch_size=abc"], r"batch_size must be an integer"),
    ({"epochs": 1}, ["ema=1.5"], r"ema must be a decay in \(0, 1\)"),
    ({"epochs": 1}, ["dtype=fp16"], r"dtype 'fp16' is not one of fp32, bf16"),
    ({"epochs": 1}, ["augment=[rotate]"], r"augment 'rotate' is not one of hflip, vflip"),
    ({"epochs": 1}, ["objective=iwae", "free_bits=0.5"], r"iwae objective has none"),
    ({"epochs": 1}, ["lr_schedule.name=cosine_restarts"], r"period_epochs is required"),
    ({"epochs": 1}, ["optimizer=5"], r"optimizer must be a mapping"),
    ({"epochs": 1}, ["lr"], r"--recipe-set expects KEY=VALUE"),
])
def test_recipe_mistakes_are_clear(recipe, sets, message):
    with pytest.raises(ZooError, match=message):
        resolve_train_config(recipe, recipe_path="my.yaml", recipe_sets=sets)


def test_broken_recipe_files(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("epochs: [1,\n")
    with pytest.raises(ZooError, match=r"bad.yaml:\d+:\d+: not valid YAML"):
        load_recipe(str(bad))
    listing = tmp_path / "list.yaml"
    listing.write_text("- 1\n- 2\n")
    with pytest.raises(ZooError, match="a recipe is a mapping"):
        load_recipe(str(listing))
    with pytest.raises(ZooError, match="cannot read recipe"):
        load_recipe(str(tmp_path / "missing.yaml"))


def test_eval_and_sample_configs_validate():
    assert EvalConfig.from_dict(EvalConfig().to_dict()) == EvalConfig()
    assert SampleConfig.from_dict({"n": "16"}).n == 16
    with pytest.raises(ZooError, match="split 'tset' is not one of test, valid, train"):
        EvalConfig(split="tset")
    with pytest.raises(ZooError, match="temperature must be a non-negative number"):
        SampleConfig(temperature=-1.0)


def test_every_zoo_model_with_a_recipe_resolves_its_data_set():
    from zoo.data import dataset_for_spec

    for entry in list_models():
        path = recipe_path_for(entry.path)
        if path is None:
            continue
        cfg, _ = resolve_train_config(recipe_path=path)
        assert dataset_for_spec(cfg.data or entry.dataset)


SCHEMA_EXAMPLE = """
data: mnist
validation: 5000
epochs: 300
batch_size: 250
eval_batch_size: 500
optimizer: {name: adamax, lr: 1.0e-2, betas: [0.9, 0.999], eps: 1.0e-8, weight_decay: 1.0e-6}
lr_schedule: {name: cosine, warmup_epochs: 2, warmup_start_lr: 0.0, min_lr: 1.0e-5, period_epochs: 300, period_mult: 2}
kl_warmup: {name: linear, epochs: 16, start: 0.1, levels: 10, delay_epochs: 0}
free_bits: 0.0
grad_clip: null
grad_skip: null
max_skips: 100
ema: null
importance_samples: 1000
seed: 123
dtype: fp32
augment: []
source: "free text: where each number comes from"
"""


def test_the_shared_schema_is_accepted_as_written(tmp_path):
    """Other specs' recipes are written against this schema: every key, as in the example."""
    path = tmp_path / "model.yaml"
    path.write_text(SCHEMA_EXAMPLE)
    cfg, _ = resolve_train_config(recipe_path=str(path))
    assert SCHEMA_KEYS <= set(TrainConfig.__dataclass_fields__)
    assert set(load_recipe(str(path))) == SCHEMA_KEYS - {"steps"}  # epochs or steps
    assert cfg.validation == 5000 and cfg.optimizer.weight_decay == 1e-6 and cfg.lr_schedule.period_mult == 2
    geometric, _ = resolve_train_config(recipe_path=str(path), recipe_sets=["kl_warmup={name: geometric, levels: 8}"])
    assert geometric.kl_warmup.levels == 8 and geometric.kl_warmup.start == 0.0
