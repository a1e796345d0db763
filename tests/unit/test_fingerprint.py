"""Every fingerprint of a config, pinned: record provenance (config_sha256), run's data hash and
run id, and each stage's job hash stay byte for byte what they were, so old state dirs resume
and old records keep their provenance."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from synthgen.config import Config, load_config
from synthgen.fingerprint import LATE, SETTINGS, config_sha256, fingerprint_dump, undeclared
from synthgen.pipeline.stage import RunStage, data_sha256, run_dir_of
from synthgen.seeds.reader import read_seeds
from synthgen.stages.dedup.stage import DedupConfig, DedupStage
from synthgen.stages.expand.stage import job_sha256 as expand_job
from synthgen.stages.filter.plan import job_sha256 as filter_job
from synthgen.stages.filter.plan import make_plan

ROOT = Path(__file__).resolve().parents[2]
TRIAGE, CHAT, SQL = (
    "configs/support-triage.yaml",
    "configs/support-chat.yaml",
    "configs/text-to-sql.yaml",
)

# name → (config file or None, overrides as the CLI gives them)
CASES: dict[str, tuple[str | None, dict[str, Any]]] = {
    "triage": (TRIAGE, {}),
    "chat": (CHAT, {}),
    "sql": (SQL, {}),
    "defaults": (None, {"seeds": ["seeds/support_triage.jsonl"]}),
    "triage-k2": (
        TRIAGE,
        {
            "generation.responses_per_instruction": 2,
            "generation.models": ["gpt-4o", "gpt-4.1-mini"],
        },
    ),
    "triage-separate": (TRIAGE, {"generation.responses": "separate"}),
    "chat-exchanges": (CHAT, {"filter.rules.min_exchanges": 3, "filter.rules.max_exchanges": 4}),
    "defaults-exchanges": (
        None,
        {"seeds": ["seeds/support_chats.jsonl"], "filter.rules.min_exchanges": 2},
    ),
    "triage-batch": (
        TRIAGE,
        {"batch.discount": 0.25, "batch.max_lines": 100, "batch.poll_s": 1.0},
    ),
    "sql-judge": (
        SQL,
        {
            "filter.judge.retry_truncated": True,
            "filter.judge.min_margin": 2.0,
            "filter.judge.max_new_tokens": 400,
        },
    ),
    "chat-last-turn": (CHAT, {"outputs.last_turn": True, "outputs.formats": ["alpaca"]}),
    "triage-where": (
        TRIAGE,
        {
            "endpoint.base_url": "http://user:pw@127.0.0.1:8000/v1?key=secret",
            "filter.judge.base_url": "http://127.0.0.1:8001/v1",
            "endpoint.concurrency": 4,
            "endpoint.rpm": 60,
            "state_dir": "/tmp/elsewhere",
            "target.count": 7,
            "budget.max_cost_usd": 0.5,
            "gates.min_keep_rate": 0.5,
            "generation.count": 9,
        },
    ),
    "defaults-sections": (
        None,
        {
            "seeds": ["seeds/support_triage.jsonl"],
            "dedup.method": "exact",
            "filter.rules.min_words": 2,
            "filter.judge.enabled": False,
            "prices": {"gpt-4o-mini": {"input": 1.0, "output": 2.0}},
        },
    ),
}

# filter_job changed once, on purpose: the judge's verdict schema v2 (bounded flags) is part of
# the judge template's hash (docs/changelog.md). Every other hash is as it was.
PINNED: dict[str, dict[str, str]] = {
    "chat": {
        "config_sha256": "b539ae6c9577e0ca0a1c86f55c3552af7ca2d44827f0964ba47285365a48b077",
        "data_sha256": "67c0f4b88437efe65f73b7f096c479ae16a991082a35cd55e4513d04f7721258",
        "expand_job": "772ebfdb4354785afb64b9004d0aeeb46b4e880e5b4058ec33166d0c48a9fb4c",
        "filter_job": "f3eb180a84ee6b104cdfdf5a284c744cb5056972e9c002c91e957b1124ccaf4c",
        "run_job": "af49a2932098ad194b81d5dded097b1a0a4532fb16ce7304733d5d638d37b809",
    },
    "chat-exchanges": {
        "config_sha256": "6b3530ac5f4716ca8902034bb11aa0ec80b7ce255a4f90b1543c842277aee9b0",
        "data_sha256": "431d88e8e7b2bc63a3e531bcde91ec256dd5c2e8ab8aa3576d1c1c87223b7302",
        "expand_job": "772ebfdb4354785afb64b9004d0aeeb46b4e880e5b4058ec33166d0c48a9fb4c",
        "filter_job": "4a53e52c470787b3a4edce5772349775a0b8780f2a3be5ead8b3426e5705eaef",
        "run_job": "b0b2c783f7338c7fee7a00c3a9311d914a73df3612f18f80dff129ae4e405964",
    },
    "chat-last-turn": {
        "config_sha256": "164f15d4f0542a4369168f8d83fd70755a856336f25acee51d59579602b92e79",
        "data_sha256": "67c0f4b88437efe65f73b7f096c479ae16a991082a35cd55e4513d04f7721258",
        "expand_job": "772ebfdb4354785afb64b9004d0aeeb46b4e880e5b4058ec33166d0c48a9fb4c",
        "filter_job": "f3eb180a84ee6b104cdfdf5a284c744cb5056972e9c002c91e957b1124ccaf4c",
        "run_job": "af49a2932098ad194b81d5dded097b1a0a4532fb16ce7304733d5d638d37b809",
    },
    "defaults": {
        "config_sha256": "ecbfb31bb9a95469547b74d469d6e6aaa38e60dafedab2fd81b78481e4fe13d0",
        "data_sha256": "c3c97ec75b8b769ec5576c5334ee4c0fa702b659e6354f0bfcbf6c57bde059d6",
        "expand_job": "e4e5e7e9119d394839b710ad313171db98e0f44349b61e63d98bb9599568beaa",
        "filter_job": "ed08968633be77d8060d8810a51c58380646e090c5a917c2cd99fe6aea3a2557",
        "run_job": "91e2de9ee44eb668b2edc3ef098a673a5b1e4399d668e7dd52600d55d7eb05bd",
    },
    "defaults-exchanges": {
        "config_sha256": "59bf9b51050a037d358b854a0af5feecf8ac8efa62b1f959d9cf8650fbe0cd4f",
        "data_sha256": "e50a7aa84dd9353393088814ff16070f1aba45dbe5f8c7af1649e373c411f8ba",
        "expand_job": "de0ccdb08489b62de022affe7b9c6ed08bd4eaad95caa2b77504220c033f9c69",
        "filter_job": "15b2de0ae1ee3b3714e681db3ecedb5c7f7d43314c43794e6ee90c4488a27492",
        "run_job": "b0922c973985cb8230f0b9e1413ae3d7d3e5994d1f3442b44808531710a6b969",
    },
    "defaults-sections": {
        "config_sha256": "31f55a1e5d9135d0c66ec87b879a5e74a913a1faa9e51dfc02ddc685993d0a8b",
        "data_sha256": "9c0b2d2d50629ec31f59b59567ec8bbf92004967fb54739d475dc5ba48f12abd",
        "expand_job": "e4e5e7e9119d394839b710ad313171db98e0f44349b61e63d98bb9599568beaa",
        "filter_job": "bcbe39a240e9f058ffc9a3583a60df35404ab2d7c4782fac39f9bb0044c1dc20",
        "run_job": "21352ec0118b6053b2da5e0208688defdb02eec363da1a454135b3046191a3b5",
    },
    "sql": {
        "config_sha256": "45deb4dbb2255370f3453de441e3f5640373f60aa4bcded04b6ce588cf69b9f2",
        "data_sha256": "54b3feb90556439954574695613d4bab96a15d850a40b636baecd2f039152425",
        "expand_job": "93fb145deba9424ccf0313b5a62e16bc2b771ea8a3fd9a66d34bc4f7c775e409",
        "filter_job": "ed108686af921523fbd287269df5a10bac8abd5a1dd0503dae1af2dcfb0ea0d4",
        "run_job": "2ace0f15b10d188907713dc23c3ddcdde0a47aa5c10ab22000d7670902fdf295",
    },
    "sql-judge": {
        "config_sha256": "e0c33eba3aacff575da6c801f48e8f0f0552c59fd7e76442853661e62c066919",
        "data_sha256": "e1a3b59598ef298378331358f612da6d19691307673a8e4959f200cc034bf47e",
        "expand_job": "93fb145deba9424ccf0313b5a62e16bc2b771ea8a3fd9a66d34bc4f7c775e409",
        "filter_job": "b2e20398151a19ecf587659381fbfcda9cf230ef6b151d88abe02affb3c903e1",
        "run_job": "ba933620e4f39edc5e4c39a9a8ec222cedf44fce440cf69486bace2ce5d5628a",
    },
    "triage": {
        "config_sha256": "f719c20ab713dab8caaf4b6daf32a72b28055af940e61b8ab4c291294641d6b7",
        "data_sha256": "17ee4e12234b8b57850d81f227d66781ced41dc3cebe5e05d7b8d07643f63151",
        "expand_job": "969ca0c0fd975742a9c4fce5b6d8add16220af76eac0cdc22876e3dcc1fece6e",
        "filter_job": "05c2e7c59184fcb7deb9878d0954a8de7b87b70c34ef9b3d554ae86c53cf7533",
        "run_job": "f01656a23cfce003de26ff12fb8b721901fdc35eeefe9f03d0386bbaef104ec7",
    },
    "triage-batch": {
        "config_sha256": "f719c20ab713dab8caaf4b6daf32a72b28055af940e61b8ab4c291294641d6b7",
        "data_sha256": "17ee4e12234b8b57850d81f227d66781ced41dc3cebe5e05d7b8d07643f63151",
        "expand_job": "969ca0c0fd975742a9c4fce5b6d8add16220af76eac0cdc22876e3dcc1fece6e",
        "filter_job": "05c2e7c59184fcb7deb9878d0954a8de7b87b70c34ef9b3d554ae86c53cf7533",
        "run_job": "f01656a23cfce003de26ff12fb8b721901fdc35eeefe9f03d0386bbaef104ec7",
    },
    "triage-k2": {
        "config_sha256": "78e941a98dfba13fadfe78b2af2452af327e27f8dfe80c8421093324d9794685",
        "data_sha256": "51955526d6f535dc37b1cb79f9dc7cfab5fc10fb90cec04995850e3a1b0f1315",
        "expand_job": "ff8f2be33c5c00a293bfa09260042e83f65bb7f5fdde7de7969eb5b13c1e200a",
        "filter_job": "05c2e7c59184fcb7deb9878d0954a8de7b87b70c34ef9b3d554ae86c53cf7533",
        "run_job": "79fb919e25776304c11d6623ebba6a628765cd9ab08a53795e4306923fcc38a3",
    },
    "triage-separate": {
        "config_sha256": "3d391167923b02792ec9c2bc69565a8b487a3a1eb4ad61970f3f7b9c56f001d3",
        "data_sha256": "b041d7ac4828fb4755160fd041ae4430e5ee0b17af4825b8fcc8ee5e24a19b6b",
        "expand_job": "24f8ac50b6c55ea29f276d3e8407fd0a571517dd7e5eae89b1b8233092461fb1",
        "filter_job": "05c2e7c59184fcb7deb9878d0954a8de7b87b70c34ef9b3d554ae86c53cf7533",
        "run_job": "4b84e3083fb7aeaac84ea153d6a7bb0e3ebd2b848cc271485339bf3a73446e0b",
    },
    "triage-where": {
        "config_sha256": "77673c22f19735c8e7eb022eae22ea2c2d6b75e2d054fe6b403449f4c71d04ef",
        "data_sha256": "e0218d2e6f3b5f9f9b83379aa053774a9774dbf982bdbb6c48e0c433bc2679c8",
        "expand_job": "7f0fd356bd5bca90526b2886c0b2cb373bba66331afedd84f4fc5c97399356c6",
        "filter_job": "9bbf5183660a95efc34a5d08cae78073c7022b91bb1c29390fba984237f7cc6e",
        "run_job": "70a9ae37ce6ca2fc6893f9f478af3fd7d80291be5f941d39926ea7c1c8248201",
    },
}


def _config(name: str) -> Config:
    file, cli = CASES[name]
    return load_config(Path(file) if file else None, cli, env={})


def fingerprints(cfg: Config) -> dict[str, str]:
    """Every hash a config shapes, through the seams the stages use."""
    seeds = read_seeds(cfg.seeds, cfg.seed_format)  # type: ignore[arg-type]
    return {
        "config_sha256": cfg.sha256(),
        "data_sha256": data_sha256(cfg),
        "expand_job": expand_job(cfg, seeds),
        "filter_job": filter_job(cfg, make_plan(cfg), "0" * 64),
        "run_job": RunStage(cfg, offline=True).plan.job_sha256,
    }


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_fingerprint_is_what_it_was(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    assert fingerprints(_config(name)) == PINNED[name]


def test_dedup_job_hash_is_what_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    cfg = DedupConfig(input="in.jsonl", output="out.jsonl", method="minhash")
    assert DedupStage(cfg).plan.job_sha256 == PINNED_DEDUP


PINNED_DEDUP = "e615030404e452104a16eefb0a2b477e8d48b4e132423fe6e9ae40aa57ea5c8d"


def test_every_setting_is_declared_content_shaping_or_not() -> None:
    """A new setting must say, in synthgen.fingerprint.SETTINGS, whether it shapes records and
    when it came in; otherwise it would silently change every id and cache key."""
    assert not undeclared(Config), f"declare these in synthgen/fingerprint.py: {undeclared(Config)}"
    fields: set[str] = set()

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, field in model.model_fields.items():
            ann = field.annotation
            if isinstance(ann, type) and issubclass(ann, BaseModel):
                walk(ann, f"{prefix}{name}.")
            else:
                fields.add(f"{prefix}{name}")

    walk(Config, "")
    assert not set(SETTINGS) - fields, f"declared but gone: {sorted(set(SETTINGS) - fields)}"


def test_an_undeclared_setting_cannot_be_fingerprinted() -> None:
    class Extra(BaseModel):
        task: str = "t"
        shiny_new: int = 0

    with pytest.raises(KeyError, match="shiny_new"):
        config_sha256(Extra())


def test_a_late_setting_at_its_default_leaves_the_fingerprints_as_they_were() -> None:
    late = [p for p, s in SETTINGS.items() if s.since == LATE]
    assert "filter.judge.min_margin" in late and "generation.count" not in late
    plain = Config()
    for path in late:
        section, name = path.rsplit(".", 1)
        assert name not in fingerprint_dump(_at(plain, section), *section.split("."))
    assert "min_margin" in fingerprint_dump(
        Config.model_validate({"filter": {"judge": {"min_margin": 2}}}).filter.judge,
        "filter",
        "judge",
    )


def test_runtime_and_purchase_settings_leave_the_data_hash_alone() -> None:
    base = Config()
    changed = {
        "endpoint": {"concurrency": 3, "rpm": 10},
        "budget": {"max_cost_usd": 1},
        "state_dir": "/elsewhere",
        "target": {"count": 5},
        "batch": {"discount": 0.3},
        "outputs": {"formats": ["alpaca"]},
    }
    other = Config.model_validate(changed)
    assert data_sha256(other) == data_sha256(base)
    assert base.sha256() != other.sha256()  # the whole config's fingerprint reads runtime ones
    assert base.sha256() == Config.model_validate({"batch": {"discount": 0.3}}).sha256()
    assert data_sha256(Config.model_validate({"generation": {"seed": 9}})) != data_sha256(base)


def test_redaction_shows_every_setting_and_no_credentials() -> None:
    """The manifest's copy of the config is not the fingerprint: it holds every setting (late
    ones and batch too), and a URL's credentials are gone from both."""
    url = "http://user:pw@127.0.0.1:8000/v1?key=secret"
    cfg = Config.model_validate(
        {"endpoint": {"base_url": url}, "filter": {"judge": {"base_url": url}}}
    )
    written = cfg.redacted()
    assert written["endpoint"]["base_url"] == "http://127.0.0.1:8000/v1"
    assert written["filter"]["judge"]["base_url"] == "http://127.0.0.1:8000/v1"
    assert "secret" not in str(written) and "pw" not in str(written)
    assert written["batch"] == Config().batch.model_dump(mode="json")
    assert written["filter"]["judge"]["retry_truncated"] is False
    clean = "http://127.0.0.1:8000/v1"
    same = Config.model_validate(
        {"endpoint": {"base_url": clean}, "filter": {"judge": {"base_url": clean}}}
    )
    assert cfg.sha256() == same.sha256() and data_sha256(cfg) == data_sha256(same)


def _at(model: BaseModel, dotted: str) -> BaseModel:
    for part in dotted.split("."):
        model = getattr(model, part)
    return model


@pytest.mark.parametrize("name", ["triage", "chat", "triage-where"])
def test_a_config_hashes_alike_from_any_working_directory(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its paths are read from the config's folder, so the records' config_sha256 and run id
    do not depend on where the command was started (the pins above are from the repo root)."""
    file, cli = CASES[name]
    assert file is not None
    for where, spelled in [(tmp_path, ROOT / file), (ROOT / "configs", Path(file).name)]:
        monkeypatch.chdir(where)
        cfg = load_config(Path(spelled), cli, env={})
        assert fingerprints(cfg) == PINNED[name], where


def test_the_state_dir_and_run_dir_lie_beside_the_config(tmp_path: Path) -> None:
    """Unless the command line or the environment says otherwise (those are the cwd's)."""
    (tmp_path / "task.yaml").write_text("task: mine\n")
    cfg = load_config(tmp_path / "task.yaml", {}, env={})
    assert cfg.state_dir == tmp_path / ".synthgen"
    assert run_dir_of(cfg) == tmp_path / "out" / "mine"
    given = load_config(tmp_path / "task.yaml", {"state_dir": "here"}, env={})
    assert given.state_dir == Path("here")
    env = load_config(tmp_path / "task.yaml", {}, env={"SYNTHGEN_STATE_DIR": "there"})
    assert env.state_dir == Path("there")
    (tmp_path / "cache.yaml").write_text("state_dir: cache\n")
    assert load_config(tmp_path / "cache.yaml", {}, env={}).state_dir == tmp_path / "cache"
    assert load_config(None, {}, env={}).state_dir == Path(".synthgen")


def test_paths_from_the_command_line_hash_as_given_even_beside_the_config(tmp_path: Path) -> None:
    """Only the paths the config file gave are read from its folder; an option's path is the
    cwd's, and hashes as it would without the file."""
    (tmp_path / "empty.yaml").write_text("")
    cli = {"state_dir": str(tmp_path / "state"), "seeds": [str(tmp_path / "s.jsonl")]}
    with_file = load_config(tmp_path / "empty.yaml", cli, env={})
    assert with_file.sha256() == load_config(None, cli, env={}).sha256()
    assert data_sha256(with_file) == data_sha256(load_config(None, cli, env={}))
